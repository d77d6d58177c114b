#!/usr/bin/env node
/*
 * Test oracle: runs iamkb scenarios through @cloud-copilot/iam-simulate (AGPL; used only from tests/ and bench/,
 * never imported or shipped by the product).
 *
 * Interface (stable; the examples tests reuse it):
 *   node tests/oracle/simulate.cjs [--timing] < scenarios.json
 *   stdin:  a JSON list of scenarios in DESIGN.md's shape:
 *           {"request": {"principal" | "anonymous": true, "action", "resource", "resourceAccount"?, "context"?},
 *            "identityPolicies": [policy], "resourcePolicy"?: policy, "permissionBoundaries"?: [policy],
 *            "serviceControlPolicies"?: [[policy, ...], ...] (root level first), "sessionPolicy"?: policy}
 *   stdout: a JSON list, one entry per scenario, in order:
 *           {"decision": "Allowed"|"ExplicitlyDenied"|"ImplicitlyDenied"|null,
 *            "error": null | iam-simulate's validation message (e.g. "policy.errors", "invalid.action"),
 *            "errors": null | iam-simulate's full error object,
 *            "ignoredContextKeys": [keys iam-simulate dropped because they do not apply to the action]}
 *           With --timing, stdout is {"results": [...], "seconds": evaluation time only (no startup, no JSON)}.
 *   Exit code 0 unless stdin is not a JSON list (then 2).
 *
 * How our shape maps to iam-simulate's Simulation:
 *   request.resource + resourceAccount -> request.resource {resource, accountId}; accountId defaults to the
 *     resource ARN's account, then to the principal's account (iam-simulate requires one);
 *   request.context -> request.contextVariables (numbers/booleans as strings, lists as string arrays);
 *   request.anonymous: true (no principal) -> principal {type: "Anonymous"}, iam-simulate's unsigned request;
 *   identityPolicies[i] -> {name: "identityPolicies[i]", policy}; permissionBoundaries -> permissionBoundaryPolicies;
 *   serviceControlPolicies[level] -> {orgIdentifier: "level-<n>", policies: [{name, policy}]};
 *   resourceControlPolicies -> [] (iam-simulate adds RCPFullAWSAccess itself); Strict simulation mode.
 */
'use strict'

const { runSimulation } = require('@cloud-copilot/iam-simulate')

function accountOf(arn) {
  if (typeof arn !== 'string') return undefined
  const parts = arn.split(':')
  return parts.length >= 6 && parts[0] === 'arn' && parts[4] ? parts[4] : undefined
}

function contextValue(value) {
  if (Array.isArray(value)) return value.map((v) => String(v))
  return String(value)
}

function toSimulation(scenario) {
  const request = scenario.request
  const context = {}
  for (const [key, value] of Object.entries(request.context || {})) {
    context[key] = contextValue(value)
  }
  return {
    request: {
      principal: request.anonymous ? { type: 'Anonymous' } : request.principal,
      action: request.action,
      resource: {
        resource: request.resource,
        accountId: request.resourceAccount || accountOf(request.resource) || accountOf(request.principal) || ''
      },
      contextVariables: context
    },
    identityPolicies: (scenario.identityPolicies || []).map((policy, i) => ({
      name: `identityPolicies[${i}]`,
      policy
    })),
    resourcePolicy: scenario.resourcePolicy || undefined,
    permissionBoundaryPolicies: scenario.permissionBoundaries
      ? scenario.permissionBoundaries.map((policy, i) => ({ name: `permissionBoundaries[${i}]`, policy }))
      : undefined,
    serviceControlPolicies: (scenario.serviceControlPolicies || []).map((level, i) => ({
      orgIdentifier: `level-${i}`,
      policies: level.map((policy, j) => ({ name: `serviceControlPolicies[${i}][${j}]`, policy }))
    })),
    resourceControlPolicies: [],
    sessionPolicy: scenario.sessionPolicy || undefined
  }
}

async function runOne(scenario) {
  try {
    const response = await runSimulation(toSimulation(scenario), {})
    if (response.resultType === 'error') {
      return { decision: null, error: response.errors.message, errors: response.errors, ignoredContextKeys: [] }
    }
    const ignored =
      response.resultType === 'single'
        ? response.result.ignoredContextKeys || []
        : [...new Set(response.results.flatMap((r) => r.ignoredContextKeys || []))]
    return { decision: response.overallResult, error: null, errors: null, ignoredContextKeys: ignored }
  } catch (err) {
    return { decision: null, error: `exception: ${err && err.message}`, errors: null, ignoredContextKeys: [] }
  }
}

async function main() {
  const timing = process.argv.includes('--timing')
  const chunks = []
  for await (const chunk of process.stdin) chunks.push(chunk)
  let scenarios
  try {
    scenarios = JSON.parse(Buffer.concat(chunks).toString('utf8'))
  } catch (err) {
    process.stderr.write(`oracle: stdin is not JSON: ${err.message}\n`)
    process.exit(2)
  }
  if (!Array.isArray(scenarios)) {
    process.stderr.write('oracle: stdin must be a JSON list of scenarios\n')
    process.exit(2)
  }
  const start = process.hrtime.bigint()
  const results = []
  for (const scenario of scenarios) {
    results.push(await runOne(scenario))
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9
  process.stdout.write(JSON.stringify(timing ? { results, seconds } : results))
  process.stdout.write('\n')
}

main()
