module.exports = { ...require('../../jest.preset.cjs'), displayName: 'handlers', rootDir: __dirname };
