module.exports = {
  ...require('../../jest.preset.cjs'),
  displayName: 'feature-builder',
  rootDir: __dirname,
  passWithNoTests: true,
};
