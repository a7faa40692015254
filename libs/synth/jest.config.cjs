module.exports = { ...require('../../jest.preset.cjs'), displayName: 'synth', rootDir: __dirname };
