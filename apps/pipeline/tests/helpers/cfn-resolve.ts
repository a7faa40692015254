/** Pseudo parameters as CloudFormation would fill them in for a test account. */
export const TEST_ACCOUNT = {
  'AWS::AccountId': '123456789012',
  'AWS::Region': 'us-east-1',
  'AWS::Partition': 'aws',
};

/** Values the function stacks import from apps/platform, as that stack would export them. */
const TEST_IMPORTS: Record<string, string> = {
  'splitwatch-dev-DataKeyArn': 'arn:aws:kms:us-east-1:123456789012:key/00000000-0000-4000-8000-000000000000',
};

/**
 * Resolves the intrinsic functions the templates use in values (Fn::Sub with pseudo parameters,
 * Fn::ImportValue of platform exports) to the string CloudFormation would produce.
 */
export function resolveValue(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'object' && value !== null) {
    const v = value as Record<string, unknown>;
    if (typeof v['Fn::Sub'] === 'string') {
      return v['Fn::Sub'].replace(/\$\{([^}!]+)\}/g, (whole, name: string) => {
        const known = (TEST_ACCOUNT as Record<string, string>)[name];
        if (known === undefined) throw new Error(`Cannot resolve ${whole} in a test`);
        return known;
      });
    }
    if (typeof v['Fn::ImportValue'] === 'string') {
      const imported = TEST_IMPORTS[v['Fn::ImportValue']];
      if (imported === undefined) throw new Error(`No test value for the import ${v['Fn::ImportValue']}`);
      return imported;
    }
  }
  throw new Error(`Cannot resolve ${JSON.stringify(value)} in a test`);
}

/** A Lambda environment (Variables of AWS::Lambda::Function) with every value resolved. */
export function resolveEnvironment(variables: Record<string, unknown>): Record<string, string> {
  return Object.fromEntries(Object.entries(variables).map(([k, v]) => [k, resolveValue(v)]));
}
