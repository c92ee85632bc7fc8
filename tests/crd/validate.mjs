// Validates Kubernetes custom resources against their CRDs' OpenAPI schemas, strictly.
//
//   node validate.mjs < manifests.json   a JSON array of manifests in; a JSON array out, one result each, in order:
//                                          {apiVersion, kind, name, ok, unknown, errors: ["spec.x: message", ...]}
//   node validate.mjs --kinds            the [apiVersion, kind] pairs that have a schema here
//
// The schemas and their compiled validators come from the @kubernetes-models packages in package.json. An
// apiVersion/kind with no schema here is a failure ("unknown": true), never a silent pass.
//
// Strictness: the packages' validators accept any unknown field, since a CRD schema never says
// `additionalProperties: false` (the API server prunes or, with strict field validation, rejects unknown fields
// instead). So each manifest is validated through proxies that record which keys the validator looks up; a key
// it never looked up in an object whose other keys it did look up is not in the schema, and is reported as an
// unknown field. Maps (labels, matchLabels) are walked key by key by the validator, so all their keys count as
// looked up; an object the validator looked into not at all (x-kubernetes-preserve-unknown-fields) is free-form.

const SOURCES = {
  "@kubernetes-models/gateway-api": [
    "gateway.networking.k8s.io/v1",
    "gateway.networking.k8s.io/v1beta1",
    "gateway.networking.k8s.io/v1alpha2",
    "gateway.networking.k8s.io/v1alpha3",
  ],
  "@kubernetes-models/gke": [
    "networking.gke.io/v1",
    "networking.gke.io/v1beta1",
    "networking.gke.io/v1beta2",
    "networking.gke.io/v1alpha1",
    "cloud.google.com/v1",
  ],
  "@kubernetes-models/cert-manager": ["cert-manager.io/v1", "acme.cert-manager.io/v1"],
  "@kubernetes-models/prometheus-operator": [
    "monitoring.coreos.com/v1",
    "monitoring.coreos.com/v1alpha1",
    "monitoring.coreos.com/v1beta1",
  ],
  "@kubernetes-models/envoy-gateway": ["gateway.envoyproxy.io/v1alpha1"],
};

function packageOf(apiVersion) {
  return Object.keys(SOURCES).find((name) => SOURCES[name].includes(apiVersion));
}

function isModel(exported) {
  // Only models carry both; the packages also export the schemas' plain types.
  return typeof exported === "function" && typeof exported.apiVersion === "string" && typeof exported.kind === "string";
}

/** Every model of every apiVersion here ("apiVersion kind" -> model class). */
async function allModels() {
  const models = new Map();
  for (const apiVersion of Object.values(SOURCES).flat()) {
    for (const exported of Object.values(await import(`${packageOf(apiVersion)}/${apiVersion}`))) {
      if (isModel(exported)) models.set(`${exported.apiVersion} ${exported.kind}`, exported);
    }
  }
  return models;
}

/** The model of one apiVersion and kind, whose prototype.validate() runs the compiled schema on `this`; undefined
 * when no package here ships it. Only that kind's module is imported: a whole apiVersion takes a second. */
async function modelOf(apiVersion, kind) {
  const pkg = packageOf(apiVersion);
  if (pkg === undefined || typeof kind !== "string" || !/^[A-Z][A-Za-z0-9]*$/.test(kind)) return undefined;
  let module;
  try {
    module = await import(`${pkg}/${apiVersion}/${kind}`);
  } catch (error) {
    if (error.code === "ERR_MODULE_NOT_FOUND" || error.code === "ERR_PACKAGE_PATH_NOT_EXPORTED") return undefined;
    throw error;
  }
  const model = module[kind];
  return isModel(model) && model.apiVersion === apiVersion && model.kind === kind ? model : undefined;
}

// --------------------------------------------------------------------------- unknown fields

function isPlainObject(value) {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** A proxy over `value` that notes in `record` each key looked up, recursively; children are proxied once each. */
function tracked(value, record) {
  return new Proxy(value, {
    get(target, key, receiver) {
      const child = Reflect.get(target, key, receiver);
      if (typeof key !== "string") return child;
      record.looked.add(key);
      if (child === null || typeof child !== "object") return child;
      if (!record.children.has(key)) {
        const childRecord = newRecord();
        record.children.set(key, { record: childRecord, proxy: tracked(child, childRecord) });
      }
      return record.children.get(key).proxy;
    },
    has(target, key) {
      if (typeof key === "string") record.looked.add(key);
      return Reflect.has(target, key);
    },
  });
}

function newRecord() {
  return { looked: new Set(), children: new Map() };
}

/** Fields in `value` that the validator never looked up, as "path: unknown field". */
function unknownFields(value, record, path, found) {
  if (Array.isArray(value)) {
    value.forEach((item, index) => {
      const child = record.children.get(String(index));
      if (child) unknownFields(item, child.record, `${path}[${index}]`, found);
    });
    return found;
  }
  if (!isPlainObject(value)) return found;
  // Not looked into at all: a free-form object (x-kubernetes-preserve-unknown-fields), or one already reported.
  if (path !== "" && record.looked.size === 0) return found;
  for (const key of Object.keys(value)) {
    const where = path === "" ? key : `${path}.${key}`;
    if (!record.looked.has(key)) {
      found.push(`${where}: unknown field "${key}"`);
      continue;
    }
    const child = record.children.get(key);
    if (child) unknownFields(value[key], child.record, where, found);
  }
  return found;
}

// --------------------------------------------------------------------------- schema errors

/** "/spec/rules/0/backendRefs/0/weight" -> "spec.rules[0].backendRefs[0].weight" */
function fieldPath(instancePath) {
  return instancePath
    .split("/")
    .slice(1)
    .map((part) => part.replace(/~1/g, "/").replace(/~0/g, "~"))
    .reduce((path, part) => (/^\d+$/.test(part) ? `${path}[${part}]` : path ? `${path}.${part}` : part), "");
}

function describe(error) {
  const path = fieldPath(error.instancePath);
  if (error.keyword === "required") {
    const field = error.params.missingProperty;
    return `${path ? `${path}.${field}` : field}: required field "${field}" is missing`;
  }
  let message = error.message ?? error.keyword;
  if (error.keyword === "enum") message += `: ${error.params.allowedValues.map((v) => JSON.stringify(v)).join(", ")}`;
  return `${path || "(top level)"}: ${message}`;
}

// --------------------------------------------------------------------------- one manifest

function validateOne(manifest, models) {
  if (!isPlainObject(manifest)) {
    return { apiVersion: null, kind: null, name: null, ok: false, unknown: true, errors: ["not an object"] };
  }
  const { apiVersion = null, kind = null } = manifest;
  const name = isPlainObject(manifest.metadata) ? (manifest.metadata.name ?? null) : null;
  const result = { apiVersion, kind, name, ok: false, unknown: false, errors: [] };
  const model = models.get(`${apiVersion} ${kind}`);
  if (!model) {
    result.unknown = true;
    result.errors.push(`no CRD schema for apiVersion ${JSON.stringify(apiVersion)} kind ${JSON.stringify(kind)}`);
    return result;
  }
  const record = newRecord();
  try {
    model.prototype.validate.call(tracked(manifest, record));
  } catch (error) {
    if (!Array.isArray(error.errors)) throw error;
    result.errors.push(...error.errors.map(describe));
  }
  unknownFields(manifest, record, "", result.errors);
  result.errors = [...new Set(result.errors)];
  result.ok = result.errors.length === 0;
  return result;
}

async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return Buffer.concat(chunks).toString("utf8");
}

async function main() {
  if (process.argv.includes("--kinds")) {
    const models = await allModels();
    process.stdout.write(JSON.stringify([...models.keys()].map((key) => key.split(" "))) + "\n");
    return;
  }
  const manifests = JSON.parse(await readStdin());
  if (!Array.isArray(manifests)) throw new Error("expected a JSON array of manifests on stdin");
  const models = new Map();
  for (const manifest of manifests.filter(isPlainObject)) {
    const key = `${manifest.apiVersion} ${manifest.kind}`;
    if (!models.has(key)) models.set(key, await modelOf(manifest.apiVersion, manifest.kind));
  }
  process.stdout.write(JSON.stringify(manifests.map((manifest) => validateOne(manifest, models))) + "\n");
}

await main();
