module.exports = {
  ...require('../../jest.preset.cjs'),
  displayName: 'pipeline',
  rootDir: __dirname,
  passWithNoTests: true,
};
