import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { parse as parseYaml } from 'yaml';
import { FailureSeveritySchema, SwarmbootError, isErrorCode, type ErrorCode, type FailureSeverity, type LogLine } from '@swarmboot/contracts';

/**
 * Which lines a rule looks at: `kernel` (netconsole, or syslog facility kern 0 as a syslogd
 * forwards the kernel ring buffer), `syslog` (every other syslog line: the agent, an installer),
 * `any`.
 */
export const RuleSourceSchema = Type.Union([Type.Literal('kernel'), Type.Literal('syslog'), Type.Literal('any')]);
export type RuleSource = Static<typeof RuleSourceSchema>;

/** One rule of the rule file (see rules/failure-rules.yaml for the fields' meaning). */
export const FailureRuleSchema = Type.Object(
  {
    id: Type.String({ pattern: '^[a-z0-9][a-z0-9-]*$', maxLength: 64 }),
    code: Type.String({ pattern: '^[A-Z][A-Z0-9_]*$' }),
    pattern: Type.String({ minLength: 1, maxLength: 1000 }),
    ignoreCase: Type.Optional(Type.Boolean()),
    source: Type.Optional(RuleSourceSchema),
    severity: FailureSeveritySchema,
    description: Type.String({ minLength: 1, maxLength: 200 }),
  },
  { additionalProperties: false },
);

/** The rule file: `version: 1` and the rules, tried in order on each line. */
export const FailureRulesFileSchema = Type.Object(
  { version: Type.Literal(1), rules: Type.Array(FailureRuleSchema, { minItems: 1, maxItems: 200 }) },
  { additionalProperties: false },
);
export type FailureRulesFile = Static<typeof FailureRulesFileSchema>;

/** A checked rule, its pattern compiled. */
export interface FailureRule {
  id: string;
  code: ErrorCode;
  severity: FailureSeverity;
  source: RuleSource;
  description: string;
  regex: RegExp;
}

/** The rule file shipped with the service (`services/logsink/rules/`, next to dist/ in the image too). */
export const SHIPPED_FAILURE_RULES = fileURLToPath(new URL('../../../rules/failure-rules.yaml', import.meta.url));

/** The variable that names another rule file; errors name it. */
const VARIABLE = 'SWARMBOOT_FAILURE_RULES';

/**
 * Checks a parsed rule file against {@link FailureRulesFileSchema} and compiles it: every code
 * must be in the ErrorCodes registry, every id unique, every pattern a valid regular expression
 * (flag `u`, `i` with `ignoreCase`). `origin` (the file) is named in errors.
 * Throws SwarmbootError CONFIG_INVALID naming SWARMBOOT_FAILURE_RULES, the file and the rule.
 */
export function compileFailureRules(doc: unknown, origin: string): FailureRule[] {
  const where = `${VARIABLE} (${origin})`;
  if (!Value.Check(FailureRulesFileSchema, doc)) {
    const first = Value.Errors(FailureRulesFileSchema, doc).First();
    const ruleAt = /^\/rules\/(\d+)/.exec(first?.path ?? '');
    const rule = ruleAt ? ruleName(doc, Number(ruleAt[1])) : '';
    throw new SwarmbootError('CONFIG_INVALID', `${where}${rule}: ${first?.path || '/'} ${first?.message ?? 'is invalid'}`, { context: { variable: VARIABLE, file: origin } });
  }
  const seen = new Set<string>();
  return doc.rules.map((r, i) => {
    const fail = (why: string): never => {
      throw new SwarmbootError('CONFIG_INVALID', `${where}: rule "${r.id}" (#${i + 1}): ${why}`, { context: { variable: VARIABLE, file: origin, rule: r.id } });
    };
    if (seen.has(r.id)) fail('the id is used twice');
    seen.add(r.id);
    if (!isErrorCode(r.code)) fail(`code ${r.code} is not in the ErrorCodes registry (packages/contracts errors.ts)`);
    let regex: RegExp;
    try {
      regex = new RegExp(r.pattern, r.ignoreCase === true ? 'iu' : 'u');
    } catch (err) {
      return fail(`pattern is not a valid regular expression: ${(err as Error).message}`);
    }
    if (regex.test('')) fail('pattern matches the empty line (it would match every line)');
    return { id: r.id, code: r.code as ErrorCode, severity: r.severity, source: r.source ?? 'any', description: r.description, regex };
  });
}

/** Reads and compiles a rule file (YAML, or JSON, which is YAML). Throws CONFIG_INVALID as {@link compileFailureRules}, also for an unreadable file or bad YAML. */
export function loadFailureRules(path: string = SHIPPED_FAILURE_RULES): FailureRule[] {
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new SwarmbootError('CONFIG_INVALID', `${VARIABLE} (${path}): ${(err as Error).message}`, { cause: err, context: { variable: VARIABLE, file: path } });
  }
  return compileFailureRules(doc, path);
}

/** ` rule "<id>" (#n)` of a rule the schema refused, when it has an id. */
function ruleName(doc: unknown, index: number): string {
  const rules = (doc as { rules?: unknown }).rules;
  const rule: unknown = Array.isArray(rules) ? rules[index] : undefined;
  const id = typeof rule === 'object' && rule !== null ? (rule as { id?: unknown }).id : undefined;
  return typeof id === 'string' ? ` rule "${id}" (#${index + 1})` : ` rule #${index + 1}`;
}

/** The source a line counts as for {@link RuleSource}: netconsole and facility kern (0) are the kernel's. */
export function lineSource(line: Pick<LogLine, 'format' | 'facility'>): 'kernel' | 'syslog' {
  return line.format === 'netconsole' || line.facility === 0 ? 'kernel' : 'syslog';
}

/**
 * The first rule, in file order, that matches a line's message and source; undefined for none.
 * Pure: each rule's precompiled regex is tested once (no `g`/`y` flag, so no lastIndex state).
 */
export function classifyLine(rules: readonly FailureRule[], line: Pick<LogLine, 'format' | 'facility' | 'message'>): FailureRule | undefined {
  const source = lineSource(line);
  for (const rule of rules) {
    if (rule.source !== 'any' && rule.source !== source) continue;
    if (rule.regex.test(line.message)) return rule;
  }
  return undefined;
}
