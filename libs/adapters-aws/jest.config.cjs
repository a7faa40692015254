module.exports = { ...require('../../jest.preset.cjs'), displayName: 'adapters-aws', rootDir: __dirname };
