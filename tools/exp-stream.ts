import { DuckDbSqlEngine } from '@splitwatch/adapters-local';
import { registerFeatures, renderSql, ALL_KEYS_SQL, OWNER_CANDIDATES_SQL, CANDIDATES_SQL } from '@splitwatch/use-cases';
async function main() {
  const engine = await DuckDbSqlEngine.open({ root: '/tmp/dw/data' });
  await registerFeatures(engine);
  const keys = renderSql(ALL_KEYS_SQL, { partitionFilter: '' });
  for (let rep = 0; rep < 3; rep++) {
    for (const [label, sql] of [['owner', renderSql(OWNER_CANDIDATES_SQL, { keys })], ['keys', renderSql(CANDIDATES_SQL, { keys })]]) {
      const s = Date.now();
      let n = 0;
      let h = 0;
      for await (const b of engine.stream(sql, 50000)) { n += b.length; for (const r of b) h = (h * 31 + JSON.stringify(r).length) | 0; }
      console.log(label, n, h, Date.now() - s, 'ms');
    }
  }
  await engine.close();
}
main();
