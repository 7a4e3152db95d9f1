/**
 * The Sentinel automation: the playbook calls POST /api/incidents/sentinel with a Function key
 * read from Key Vault, polls each run's status, and comments with the evidence location and
 * manifest hash; the automation rule runs that playbook on new incidents. Logic Apps
 * expressions are parsed and their action/parameter references checked, and the fields the
 * playbook reads are checked against the Functions code that produces them.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FUNCTION_KEY_SECRET_NAME, PLAYBOOK_CONTRACT, SENTINEL_ROUTE } from '../../infra/playbook.js';
import { runStatusView } from '../../shared/orchestration/runStatus.js';
import type { CollectionRunOutput } from '../../shared/orchestration/types.js';
import { evaluateValue, type Value } from './armExpression.js';
import { committedTemplate, contextFor, nestedWith, only, ROOT, resourcesOfType, strings, type Obj, type Resource } from './templateModel.js';

const template = committedTemplate();
const ctx = contextFor(template);
const workflow = only(resourcesOfType(template, 'Microsoft.Logic/workflows'), 'playbook');
const definition = (workflow.properties as { definition: Obj }).definition as {
  parameters: Record<string, Obj>;
  triggers: Record<string, Obj>;
  actions: Record<string, Action>;
};
interface Action extends Obj {
  type: string;
  inputs?: Obj & { uri?: string; method?: string; headers?: Record<string, string>; body?: unknown; path?: string; authentication?: Obj };
  actions?: Record<string, Action>;
  runAfter?: Record<string, string[]>;
  runtimeConfiguration?: { secureData?: { properties: string[] } };
  operationOptions?: string;
  expression?: string;
  limit?: { count: number; timeout: string };
  foreach?: string;
}

/** Every action of the definition with the names of its enclosing actions (Foreach/Until scopes). */
function allActions(actions: Record<string, Action>, parents: string[] = []): { name: string; action: Action; parents: string[] }[] {
  return Object.entries(actions).flatMap(([name, action]) => [{ name, action, parents }, ...allActions(action.actions ?? {}, [...parents, name])]);
}
const actions = allActions(definition.actions);
const action = (name: string): Action =>
  only(
    actions.filter((a) => a.name === name),
    name,
  ).action;

// ---- Logic Apps workflow definition language: a parser for the expressions the playbook uses ----
type LaAst = { kind: 'lit' } | { kind: 'call'; name: string; args: LaAst[] } | { kind: 'access'; target: LaAst; key: LaAst | string };

function parseLa(text: string): LaAst {
  let i = 0;
  const fail = (m: string): never => {
    throw new SyntaxError(`${m} at ${i} in ${text}`);
  };
  const ws = (): void => {
    while (/\s/.test(text[i] ?? '')) i++;
  };
  const primary = (): LaAst => {
    ws();
    if (text[i] === "'") {
      i++;
      for (;;) {
        if (i >= text.length) fail('unterminated string');
        if (text[i] === "'" && text[i + 1] === "'") i += 2;
        else if (text[i] === "'") break;
        else i++;
      }
      i++;
      return { kind: 'lit' };
    }
    const num = /^-?\d+(\.\d+)?/.exec(text.slice(i));
    if (num) {
      i += num[0].length;
      return { kind: 'lit' };
    }
    const id = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i));
    if (!id) return fail('expression expected');
    i += id[0].length;
    ws();
    if (text[i] !== '(') return fail(`'(' expected after ${id[0]}`);
    i++;
    const args: LaAst[] = [];
    ws();
    if (text[i] === ')') i++;
    else {
      for (;;) {
        args.push(expression());
        ws();
        if (text[i] === ',') i++;
        else if (text[i] === ')') {
          i++;
          break;
        } else fail("',' or ')' expected");
      }
    }
    return { kind: 'call', name: id[0], args };
  };
  const expression = (): LaAst => {
    let node = primary();
    for (;;) {
      ws();
      if (text[i] === '?') i++;
      if (text[i] === '[') {
        i++;
        const key = expression();
        ws();
        if (text[i] !== ']') fail("']' expected");
        i++;
        node = { kind: 'access', target: node, key };
      } else if (text[i] === '.') {
        i++;
        const id = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i));
        if (!id) fail('property expected');
        i += (id as RegExpExecArray)[0].length;
        node = { kind: 'access', target: node, key: (id as RegExpExecArray)[0] };
      } else {
        return node;
      }
    }
  };
  const ast = expression();
  ws();
  if (i !== text.length) fail('unexpected text');
  return ast;
}

function laCalls(ast: LaAst): { name: string }[] {
  if (ast.kind === 'lit') return [];
  if (ast.kind === 'access') return [...laCalls(ast.target), ...(typeof ast.key === 'string' ? [] : laCalls(ast.key))];
  return [{ name: ast.name }, ...ast.args.flatMap(laCalls)];
}

/** The expressions in a workflow string: the whole string after '@', or each '@{...}'. */
function laExpressions(s: string): string[] {
  if (s.startsWith('@@')) return [];
  if (s.startsWith('@') && !s.startsWith('@{')) return [s.slice(1)];
  const out: string[] = [];
  let k = s.indexOf('@{');
  while (k >= 0) {
    let depth = 0;
    let inString = false;
    let end = -1;
    for (let j = k + 1; j < s.length; j++) {
      const ch = s[j];
      if (inString) {
        if (ch === "'" && s[j + 1] === "'") j++;
        else if (ch === "'") inString = false;
      } else if (ch === "'") inString = true;
      else if (ch === '{') depth++;
      else if (ch === '}' && --depth === 0) {
        end = j;
        break;
      }
    }
    if (end < 0) throw new SyntaxError(`unbalanced @{ in ${s}`);
    out.push(s.slice(k + 2, end));
    k = s.indexOf('@{', end);
  }
  return out;
}

const LOGIC_APPS_FUNCTIONS = new Set([
  'parameters',
  'body',
  'outputs',
  'actions',
  'items',
  'triggerBody',
  'listCallbackUrl',
  'coalesce',
  'string',
  'createArray',
  'contains',
  'not',
  'if',
  'empty',
  'concat',
  'equals',
  'join',
]);
const argOf = (expr: string, fn: string): string[] => [...expr.matchAll(new RegExp(`\\b${fn}\\('([^']+)'\\)`, 'g'))].map((m) => m[1] as string);

describe('playbook workflow definition', () => {
  it('every workflow expression parses, uses known functions, and names declared parameters, actions and loops', () => {
    let count = 0;
    const names = new Set(actions.map((a) => a.name));
    for (const { name, action: a, parents } of [...actions, { name: '(trigger)', action: definition.triggers as unknown as Action, parents: [] }]) {
      const own = { ...a, actions: undefined };
      for (const s of strings(own)) {
        for (const expr of laExpressions(s.value)) {
          count++;
          const ast = parseLa(expr);
          for (const c of laCalls(ast)) expect({ expr, fn: c.name, known: LOGIC_APPS_FUNCTIONS.has(c.name) }).toEqual({ expr, fn: c.name, known: true });
          for (const p of argOf(expr, 'parameters')) expect({ expr, parameter: p, declared: p in definition.parameters }).toEqual({ expr, parameter: p, declared: true });
          for (const fn of ['body', 'outputs', 'actions'])
            for (const ref of argOf(expr, fn)) expect({ in: name, ref, exists: names.has(ref) }).toEqual({ in: name, ref, exists: true });
          for (const loop of argOf(expr, 'items'))
            expect({ in: name, loop, enclosing: parents.includes(loop) && action(loop).type === 'Foreach' }).toEqual({ in: name, loop, enclosing: true });
        }
      }
      for (const after of Object.keys(a.runAfter ?? {})) expect({ in: name, runAfter: after, exists: names.has(after) }).toEqual({ in: name, runAfter: after, exists: true });
    }
    expect(count).toBeGreaterThan(15);
  });

  it('is triggered by a Microsoft Sentinel incident through the azuresentinel connection with the managed identity', () => {
    const trigger = only(Object.values(definition.triggers), 'trigger') as Action;
    expect(trigger.type).toBe('ApiConnectionWebhook');
    expect(trigger.inputs?.path).toBe('/incident-creation');
    const params = (workflow.properties as { parameters: { $connections: { value: { azuresentinel: Obj } } } }).parameters;
    const connection = only(resourcesOfType(template, 'Microsoft.Web/connections'), 'connection');
    expect(evaluateValue(params.$connections.value.azuresentinel, ctx)).toMatchObject({
      connectionId: evaluateValue(`[resourceId('Microsoft.Web/connections', variables('sentinelConnectionName'))]`, ctx),
      connectionProperties: { authentication: { type: 'ManagedServiceIdentity' } },
      id: expect.stringMatching(/\/providers\/Microsoft\.Web\/locations\/westeurope\/managedApis\/azuresentinel$/),
    });
    expect(connection.properties).toMatchObject({ parameterValueType: 'Alternative' });
    expect(workflow.identity).toEqual({ type: 'SystemAssigned' });
  });

  it('reads the Function key from its Key Vault secret with the managed identity, and keeps it out of run history', () => {
    const get = action('Get_function_key');
    expect(get.inputs).toMatchObject({ method: 'GET', authentication: { type: 'ManagedServiceIdentity', audience: 'https://vault.azure.net' } });
    expect(get.runtimeConfiguration?.secureData?.properties).toContain('outputs');
    const params = evaluateValue((workflow.properties as { parameters: unknown }).parameters, ctx) as Record<string, { value: Value }>;
    const vault = String(evaluateValue("[variables('keyVaultName')]", ctx));
    expect(params.functionKeySecretUri?.value).toBe(`https://${vault}.vault.azure.net/secrets/${FUNCTION_KEY_SECRET_NAME}`);
    expect(get.inputs?.uri).toBe("@{parameters('functionKeySecretUri')}?api-version=7.4");
  });

  it(`POSTs the incident to ${SENTINEL_ROUTE} on the deployed Function App with that key`, () => {
    const start = action('Start_collection');
    expect(start.inputs?.method).toBe('POST');
    expect(start.inputs?.uri).toBe(`@{parameters('functionBaseUrl')}/api/incidents/sentinel`);
    expect(start.inputs?.body).toBe('@triggerBody()');
    expect(start.inputs?.headers?.['x-functions-key']).toBe("@{body('Get_function_key')?['value']}");
    expect(start.runAfter).toEqual({ Get_function_key: ['Succeeded'] });
    expect(start.runtimeConfiguration?.secureData?.properties).toContain('inputs');
    // Without this, Logic Apps would follow a 202's Location itself.
    expect(start.operationOptions).toBe('DisableAsyncPattern');
    const params = evaluateValue((workflow.properties as { parameters: unknown }).parameters, ctx) as Record<string, { value: Value }>;
    expect(params.functionBaseUrl?.value).toBe(`https://${String(evaluateValue("[variables('functionAppName')]", ctx))}.azurewebsites.net`);
  });

  it('polls every run until it is no longer running, within the configured timeout', () => {
    const loop = action('For_each_run');
    expect(loop.type).toBe('Foreach');
    expect(loop.foreach).toBe("@body('Start_collection')?['runs']");
    const wait = action('Wait_for_run');
    expect(wait.type).toBe('Until');
    expect(wait.limit?.timeout).toBe("@{parameters('collectionTimeout')}");
    for (const s of PLAYBOOK_CONTRACT.runningStatuses) expect(wait.expression).toContain(`'${s}'`);
    const status = action('Get_run_status');
    expect(status.inputs?.uri).toBe("@{items('For_each_run')?['statusUrl']}");
    expect(status.inputs?.headers?.['x-functions-key']).toBe("@{body('Get_function_key')?['value']}");
    expect(status.runAfter).toEqual({ Delay: ['Succeeded'] });
    expect(action('Delay').type).toBe('Wait');
    const params = evaluateValue((workflow.properties as { parameters: unknown }).parameters, ctx) as Record<string, { value: Value }>;
    expect(params.collectionTimeout?.value).toBe('PT2H');
    expect(params.pollIntervalSeconds?.value).toBe(60);
  });

  it('comments on the incident with the evidence location and the manifest SHA-256, also when the run failed or timed out', () => {
    const comment = action('Comment_result');
    expect(comment.type).toBe('ApiConnection');
    expect(comment.inputs?.path).toBe('/Incidents/Comment');
    expect(comment.inputs?.method).toBe('post');
    const body = comment.inputs?.body as { incidentArmId: string; message: string };
    expect(body.incidentArmId).toBe("@triggerBody()?['object']?['id']");
    expect(body.message).toContain("body('Get_run_status')?['evidence']?['manifestSha256']");
    expect(body.message).toContain("body('Get_run_status')?['evidence']?['location']");
    expect(comment.runAfter).toEqual({ Wait_for_run: ['Succeeded', 'Failed', 'TimedOut'] });
    for (const failure of ['Comment_not_started', 'Comment_key_unavailable']) {
      expect(action(failure).inputs?.path).toBe('/Incidents/Comment');
    }
    expect(action('Comment_not_started').runAfter).toEqual({ Start_collection: ['Failed', 'TimedOut'] });
  });
});

describe('the playbook reads what the Function App answers', () => {
  it('the route is registered as POST incidents/sentinel and the status route as GET collections/{runId}, both with authLevel function', () => {
    // Registration options are not observable in test mode (app.http is skipped), so read them; the
    // answers themselves are exercised in playbookContract.test.ts.
    const source = readFileSync(join(ROOT, 'functions/sentinelIncident.ts'), 'utf8');
    expect(source).toMatch(/app\.http\('sentinelIncident', \{\s*methods: \['POST'\],\s*route: 'incidents\/sentinel',\s*authLevel: 'function',/);
    const status = readFileSync(join(ROOT, 'functions/collectionStatus.ts'), 'utf8');
    expect(status).toMatch(/app\.http\('collectionStatus', \{\s*methods: \['GET'\],\s*route: 'collections\/\{runId\}',\s*authLevel: 'function',/);
  });

  it('the status paths the comment uses exist in the real status view of a sealed run', () => {
    const output = {
      runId: 'a'.repeat(32),
      caseId: 'case-1',
      clusterResourceId: '/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/aks',
      startedAt: '2024-01-01T00:00:00Z',
      endedAt: '2024-01-01T00:10:00Z',
      outcome: 'partial',
      seal: {
        runId: 'a'.repeat(32),
        caseId: 'case-1',
        location: 'https://acct.blob.core.windows.net/evidence/case-1/run',
        manifestPath: 'manifest.json',
        manifestSha256: 'f'.repeat(64),
        records: {},
        gaps: {},
        artifactCount: 3,
        chainHead: 'e'.repeat(64),
        sealRecordSha256: 'd'.repeat(64),
        sealedAt: '2024-01-01T00:10:00Z',
      },
      tasks: { total: 1, complete: 0, partial: 1, failed: 0, skipped: 0 },
      failedTasks: [],
    } satisfies CollectionRunOutput;
    const view = runStatusView({
      instanceId: 'a'.repeat(32),
      runtimeStatus: 'Completed',
      createdTime: '2024-01-01T00:00:00Z',
      lastUpdatedTime: '2024-01-01T00:10:00Z',
      output,
    }) as unknown as Record<string, unknown>;
    const at = (path: readonly string[]): unknown => path.reduce<unknown>((x, k) => (x as Record<string, unknown> | undefined)?.[k], view);
    expect(at([PLAYBOOK_CONTRACT.runtimeStatusField])).toBe('Completed');
    expect(at(PLAYBOOK_CONTRACT.status.manifestSha256)).toBe('f'.repeat(64));
    expect(at(PLAYBOOK_CONTRACT.status.chainHead)).toBe('e'.repeat(64));
    expect(at(PLAYBOOK_CONTRACT.status.location)).toBe(output.seal.location);
    expect(at(PLAYBOOK_CONTRACT.status.manifestPath)).toBe('manifest.json');
    expect(at(PLAYBOOK_CONTRACT.status.outcome)).toBe('partial');
    const failed = runStatusView({ instanceId: 'b'.repeat(32), runtimeStatus: 'Failed', createdTime: 'x', lastUpdatedTime: 'x', output: 'boom' }) as unknown as Record<
      string,
      unknown
    >;
    expect(failed[PLAYBOOK_CONTRACT.status.error[0]]).toBe('boom');
  });
});

describe('automation rule', () => {
  const { deployment, template: sentinelTemplate } = nestedWith(template, 'Microsoft.SecurityInsights/automationRules');
  const rules = sentinelTemplate.resources.filter((r) => r.type === 'Microsoft.SecurityInsights/automationRules');
  const triggersWhen = (r: { properties?: unknown }) => (r.properties as { triggeringLogic: { triggersWhen: string } }).triggeringLogic.triggersWhen;
  const rule = only(
    rules.filter((r) => !r.condition && triggersWhen(r) === 'Created'),
    'unconditional automation rule',
  );
  const closedRule = only(
    rules.filter((r) => !r.condition && triggersWhen(r) === 'Updated'),
    'automation rule on closing',
  );
  const analyticRulesRule = only(
    rules.filter((r) => r.condition && triggersWhen(r) === 'Created'),
    'automation rule for named analytic rules',
  );
  const analyticRulesClosedRule = only(
    rules.filter((r) => r.condition && triggersWhen(r) === 'Updated'),
    'automation rule on closing for named analytic rules',
  );
  const innerParams = (parameters: Record<string, Value> = {}): Record<string, Value> => {
    const outer = contextFor(template, { subscriptionId: '11111111-2222-3333-4444-555555555555', resourceGroup: 'rg-ev', location: 'westeurope', parameters });
    const passed = evaluateValue((deployment.properties as { parameters: unknown }).parameters, outer) as Record<string, { value: Value }>;
    return Object.fromEntries(Object.entries(passed).map(([k, x]) => [k, x.value]));
  };
  const evaluatedRule = (
    parameters: Record<string, Value> = {},
  ): {
    actions: { actionType: string; actionConfiguration: { logicAppResourceId: string } }[];
    triggeringLogic: {
      isEnabled: boolean;
      triggersOn: string;
      triggersWhen: string;
      conditions: { conditionProperties: { propertyName: string; operator: string; propertyValues: string[] } }[];
    };
  } => {
    const inner = { ...contextFor(template), variables: {}, parameters: innerParams(parameters) };
    return evaluateValue(rule.properties, inner) as never;
  };
  /** AutomationRulePropertyConditionSupportedProperty/Operator (azure-rest-api-specs, SecurityInsights 2024-03-01 AutomationRules.json), the ones used. */
  const SUPPORTED_PROPERTIES = [
    'IncidentTitle',
    'IncidentSeverity',
    'IncidentProviderName',
    'AlertProductNames',
    'AzureResourceResourceId',
    'IncidentLabel',
    'IncidentRelatedAnalyticRuleIds',
  ];
  const SUPPORTED_OPERATORS = ['Equals', 'NotEquals', 'Contains', 'NotContains', 'StartsWith', 'NotStartsWith', 'EndsWith', 'NotEndsWith'];

  it('is an extension resource of the workspace that runs the playbook on new incidents', () => {
    expect(rule.scope).toBe("[format('Microsoft.OperationalInsights/workspaces/{0}', parameters('workspaceName'))]");
    const r = evaluatedRule();
    expect(r.triggeringLogic).toMatchObject({ triggersOn: 'Incidents', triggersWhen: 'Created', isEnabled: false });
    expect(r.actions).toEqual([
      {
        order: 1,
        actionType: 'RunPlaybook',
        actionConfiguration: {
          logicAppResourceId: evaluateValue(
            `[resourceId('Microsoft.Logic/workflows', variables('playbookName'))]`,
            contextFor(template, { subscriptionId: '11111111-2222-3333-4444-555555555555', resourceGroup: 'rg-ev', location: 'westeurope', parameters: {} }),
          ),
          tenantId: expect.any(String),
        },
      },
    ]);
    expect(deployment.dependsOn).toContain("[resourceId('Microsoft.Logic/workflows', variables('playbookName'))]");
    expect(evaluatedRule({ automationRuleEnabled: true }).triggeringLogic.isEnabled).toBe(true);
  });

  it('conditions are parameterised: by default any incident about an AKS cluster of severity High or Medium', () => {
    const conditions = evaluatedRule().triggeringLogic.conditions.map((c) => c.conditionProperties);
    expect(conditions).toEqual([
      // An AKS cluster, or a node scale set in its node resource group (node-level alerts name the VMSS, not the cluster).
      {
        propertyName: 'AzureResourceResourceId',
        operator: 'Contains',
        propertyValues: ['/providers/Microsoft.ContainerService/managedClusters/', '/providers/Microsoft.Compute/virtualMachineScaleSets/aks-'],
      },
      { propertyName: 'IncidentSeverity', operator: 'Equals', propertyValues: ['High', 'Medium'] },
    ]);
    const custom = evaluatedRule({ automationRuleResourceIdContains: [], automationRuleSeverities: [], automationRuleTitleContains: ['Kubernetes', 'K8S'] }).triggeringLogic
      .conditions;
    expect(custom.map((c) => c.conditionProperties)).toEqual([{ propertyName: 'IncidentTitle', operator: 'Contains', propertyValues: ['Kubernetes', 'K8S'] }]);
    for (const c of [...conditions, ...custom.map((x) => x.conditionProperties)]) {
      expect(SUPPORTED_PROPERTIES).toContain(c.propertyName);
      expect(SUPPORTED_OPERATORS).toContain(c.operator);
    }
  });

  it("a rule on closing runs the same playbook for the same incidents once their status changes to Closed (the Function stops their runs' preservation windows)", () => {
    const inner = { ...contextFor(template), variables: {}, parameters: innerParams() };
    const closed = evaluateValue(closedRule.properties, inner) as ReturnType<typeof evaluatedRule>;
    const created = evaluatedRule();
    expect(closed.triggeringLogic).toMatchObject({ triggersOn: 'Incidents', triggersWhen: 'Updated', isEnabled: false });
    expect(closed.actions).toEqual(created.actions);
    // The creation rule's conditions, and the status change.
    expect(closed.triggeringLogic.conditions).toEqual([
      ...created.triggeringLogic.conditions,
      { conditionType: 'PropertyChanged', conditionProperties: { propertyName: 'IncidentStatus', changeType: 'ChangedTo', operator: 'Equals', propertyValues: ['Closed'] } },
    ]);
    expect(closedRule.name).not.toBe(rule.name);
  });

  it('a second rule runs the playbook for incidents of the named analytic rules (scheduled AKSAudit rules name no AKS resource); absent by default', () => {
    const ruleId =
      '/subscriptions/9a1b2c3d-4e5f-4a6b-8c7d-0e1f2a3b4c5d/resourceGroups/rg-soc/providers/Microsoft.OperationalInsights/workspaces/law-soc/providers/Microsoft.SecurityInsights/alertRules/a1b2c3d4-0000-4000-8000-000000000009';
    const ctxFor = (parameters: Record<string, Value>) => ({ ...contextFor(template), variables: {}, parameters: innerParams(parameters) });
    expect(evaluateValue(analyticRulesRule.condition, ctxFor({}))).toBe(false);
    const on = ctxFor({ automationRuleAnalyticRuleIds: [ruleId] });
    expect(evaluateValue(analyticRulesRule.condition, on)).toBe(true);
    const props = evaluateValue(analyticRulesRule.properties, on) as {
      triggeringLogic: { conditions: { conditionProperties: { propertyName: string; operator: string; propertyValues: string[] } }[] };
      actions: unknown[];
    };
    expect(props.triggeringLogic.conditions.map((c) => c.conditionProperties)).toEqual([
      { propertyName: 'IncidentRelatedAnalyticRuleIds', operator: 'Contains', propertyValues: [ruleId] },
    ]);
    expect(SUPPORTED_PROPERTIES).toContain('IncidentRelatedAnalyticRuleIds');
    expect(props.actions).toEqual(evaluatedRule().actions);
    expect(analyticRulesRule.name).not.toBe(rule.name);
    // Their incidents, once closed, too; present exactly when the rule above is.
    expect(evaluateValue(analyticRulesClosedRule.condition, ctxFor({}))).toBe(false);
    expect(evaluateValue(analyticRulesClosedRule.condition, on)).toBe(true);
    const closed = evaluateValue(analyticRulesClosedRule.properties, on) as typeof props & { triggeringLogic: { triggersWhen: string } };
    expect(closed.triggeringLogic.triggersWhen).toBe('Updated');
    expect(closed.triggeringLogic.conditions).toEqual([
      { conditionType: 'Property', conditionProperties: { propertyName: 'IncidentRelatedAnalyticRuleIds', operator: 'Contains', propertyValues: [ruleId] } },
      { conditionType: 'PropertyChanged', conditionProperties: { propertyName: 'IncidentStatus', changeType: 'ChangedTo', operator: 'Equals', propertyValues: ['Closed'] } },
    ]);
    expect(closed.actions).toEqual(props.actions);
  });

  it('the Function identity gets Microsoft Sentinel Reader on the workspace (it asks Sentinel about each incident)', () => {
    const reader = only(
      sentinelTemplate.resources.filter((r) => r.type === 'Microsoft.Authorization/roleAssignments' && JSON.stringify(r.properties).includes('readerRoleGuid')),
      'Sentinel Reader assignment',
    );
    expect(reader.scope).toBe(rule.scope);
    const params = innerParams();
    expect(params.readerRoleGuid).toBe('8d289c81-5878-46d4-8554-54e1e3d8b5cb');
    const outer = contextFor(template, { subscriptionId: '11111111-2222-3333-4444-555555555555', resourceGroup: 'rg-ev', location: 'westeurope', parameters: {} });
    expect(params.functionPrincipalId).toBe(
      evaluateValue(`[reference(resourceId('Microsoft.ManagedIdentity/userAssignedIdentities', variables('identityName')), '2023-01-31').principalId]`, outer),
    );
    expect(deployment.dependsOn).toContain("[resourceId('Microsoft.ManagedIdentity/userAssignedIdentities', variables('identityName'))]");
  });

  it('everything Sentinel-specific is skipped when deploySentinelAutomation is false', () => {
    const off = contextFor(template, {
      subscriptionId: 's',
      resourceGroup: 'rg',
      location: 'westeurope',
      parameters: { deploySentinelAutomation: false, sentinelServicePrincipalObjectId: 'x' },
    });
    const conditional = template.resources.filter((r: Resource) => ['Microsoft.Logic/workflows', 'Microsoft.Web/connections'].includes(r.type) || r === deployment);
    expect(conditional.length).toBe(3);
    for (const r of conditional) expect(evaluateValue(r.condition, off)).toBe(false);
  });
});
