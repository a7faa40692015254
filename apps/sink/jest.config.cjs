module.exports = {
  ...require('../../jest.preset.cjs'),
  displayName: 'sink',
  rootDir: __dirname,
  passWithNoTests: true,
};
