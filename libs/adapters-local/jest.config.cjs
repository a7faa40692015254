module.exports = { ...require('../../jest.preset.cjs'), displayName: 'adapters-local', rootDir: __dirname };
