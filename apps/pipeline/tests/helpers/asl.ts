import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { appDir } from './sls-package';

export const ASL_PATH = join(appDir('pipeline'), 'statemachines', 'pipeline.asl.yaml');

export interface AslState {
  Type: string;
  Resource?: unknown;
  Next?: string;
  End?: boolean;
  Default?: string;
  Choices?: { Next: string }[];
  Retry?: { ErrorEquals: string[]; MaxAttempts?: number }[];
  Catch?: { ErrorEquals: string[]; Next: string; ResultPath?: string }[];
  [key: string]: unknown;
}

export interface AslDefinition {
  StartAt: string;
  States: Record<string, AslState>;
}

/** The ASL file as serverless-step-functions sees it after `${file()}`: intrinsic functions still in place. */
export function loadAsl(stage = 'test'): AslDefinition {
  const text = readFileSync(ASL_PATH, 'utf8').replaceAll('${sls:stage}', stage);
  return parse(text) as AslDefinition;
}

/** Every state with its name, including the states inside Map (ItemProcessor/Iterator) and Parallel branches. */
export function allStates(states: Record<string, AslState>): [string, AslState][] {
  const out: [string, AslState][] = [];
  for (const [name, state] of Object.entries(states)) {
    out.push([name, state]);
    const nested = [state.ItemProcessor, state.Iterator, ...((state.Branches as unknown[]) ?? [])] as (AslDefinition | undefined)[];
    for (const n of nested) if (n && typeof n === 'object') out.push(...allStates(n.States));
  }
  return out;
}

/** The export name in `{ Fn::ImportValue: name }`, or undefined for anything else. */
export function importedName(resource: unknown): string | undefined {
  if (typeof resource !== 'object' || resource === null) return undefined;
  const name = (resource as Record<string, unknown>)['Fn::ImportValue'];
  return typeof name === 'string' ? name : undefined;
}

/**
 * Replaces every `Fn::ImportValue` Resource by the Lambda ARN CloudFormation would put there, so that the
 * definition is plain ASL (what Step Functions finally receives).
 */
export function withLambdaArns(definition: AslDefinition): AslDefinition {
  const copy = structuredClone(definition);
  for (const [, state] of allStates(copy.States)) {
    const name = importedName(state.Resource);
    if (name)
      state.Resource = `arn:aws:lambda:us-east-1:123456789012:function:${name.replace(/FunctionArn$/, '')}`;
  }
  return copy;
}

/** Every state a transition (Next, Default, Choices, Catch) can reach from StartAt. */
export function reachableStates(definition: AslDefinition): Set<string> {
  const seen = new Set<string>();
  const queue = [definition.StartAt];
  while (queue.length > 0) {
    const name = queue.shift()!;
    if (seen.has(name)) continue;
    seen.add(name);
    const s = definition.States[name];
    if (!s) continue;
    const targets = [
      s.Next,
      s.Default,
      ...(s.Choices ?? []).map((c) => c.Next),
      ...(s.Catch ?? []).map((c) => c.Next),
    ];
    for (const t of targets) if (t) queue.push(t);
  }
  return seen;
}
