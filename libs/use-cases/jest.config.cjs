module.exports = { ...require('../../jest.preset.cjs'), displayName: 'use-cases', rootDir: __dirname };
