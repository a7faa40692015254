module.exports = {
  ...require('../../jest.preset.cjs'),
  displayName: 'detectors',
  rootDir: __dirname,
  passWithNoTests: true,
};
