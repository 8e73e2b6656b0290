// lambdalab's Node.js runtime client: the process inside a Node.js execution environment.
//
// It speaks the Lambda Runtime API (2018-06-01) to AWS_LAMBDA_RUNTIME_API as AWS's Node.js runtime
// interface client does: load the handler once (INIT), then loop GET /runtime/invocation/next ->
// handler(event, context[, callback]) -> POST .../response or .../error. Written for the project with
// Node's own modules only (no npm registry is reachable here). The handler setting is FILE.EXPORT
// ("index.handler"): index.mjs, index.cjs or index.js in LAMBDA_TASK_ROOT, as Lambda looks for them;
// an async handler's promise or a callback handler's callback gives the result. console.* lines are
// written as Lambda's Node.js runtime writes them: "TIMESTAMP\tREQUEST_ID\tLEVEL\tmessage".
"use strict";

const http = require("http");
const path = require("path");
const fs = require("fs");
const util = require("util");

const API = process.env.AWS_LAMBDA_RUNTIME_API;
const [HOST, PORT] = API.split(":");
const BASE = "/2018-06-01/runtime";
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
let currentRequestId = "undefined";

function call(method, pathname, body, headers) {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : Buffer.from(body);
    const request = http.request({ host: HOST, port: PORT, method, path: BASE + pathname, agent,
      headers: Object.assign({ "Content-Length": data ? data.length : 0 }, headers || {}) }, (response) => {
      const chunks = [];
      response.on("data", (chunk) => chunks.push(chunk));
      response.on("end", () => resolve({ status: response.statusCode, headers: response.headers,
        body: Buffer.concat(chunks).toString("utf8") }));
    });
    request.on("error", reject);
    if (data) request.write(data);
    request.end();
  });
}

function errorBody(error, type) {
  const err = error instanceof Error ? error : new Error(String(error));
  return { errorType: type || err.name || "Error", errorMessage: err.message,
    trace: String(err.stack || "").split("\n") };
}

function log(level, args) {
  const line = util.format(...args).split("\n").join("\r");
  process.stdout.write(`${new Date().toISOString()}\t${currentRequestId}\t${level}\t${line}\n`);
}
console.log = (...args) => log("INFO", args);
console.info = (...args) => log("INFO", args);
console.warn = (...args) => log("WARN", args);
console.error = (...args) => log("ERROR", args);
console.debug = (...args) => log("DEBUG", args);
console.trace = (...args) => log("TRACE", args);

class FaultError extends Error {
  constructor(type, message) { super(message); this.name = type; }
}

async function loadHandler() {
  const root = process.env.LAMBDA_TASK_ROOT || "/var/task";
  const setting = process.env._HANDLER || "";
  const dot = setting.lastIndexOf(".");
  if (dot < 1) {
    throw new FaultError("Runtime.MalformedHandlerName", `Bad handler ${setting}`);
  }
  const file = setting.slice(0, dot), exported = setting.slice(dot + 1);
  const base = path.resolve(root, file);
  const found = [".mjs", ".cjs", ".js"].map((ext) => base + ext).find((p) => fs.existsSync(p));
  if (!found) {
    throw new FaultError("Runtime.ImportModuleError", `Error: Cannot find module '${file}'`);
  }
  let module;
  try {
    module = found.endsWith(".mjs") ? await import(found) : require(found);
  } catch (error) {
    if (error instanceof SyntaxError) {
      throw new FaultError("Runtime.UserCodeSyntaxError", `${error.name}: ${error.message}`);
    }
    throw new FaultError("Runtime.ImportModuleError", `${error.name || "Error"}: ${error.message}`);
  }
  const handler = exported.split(".").reduce((object, key) => (object == null ? undefined : object[key]), module);
  if (typeof handler !== "function") {
    throw new FaultError("Runtime.HandlerNotFound", `${setting} is undefined or not exported`);
  }
  return handler;
}

function context(headers) {
  const deadline = Number(headers["lambda-runtime-deadline-ms"]);
  const parse = (value) => { try { return value ? JSON.parse(value) : undefined; } catch (e) { return undefined; } };
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
    functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION,
    invokedFunctionArn: headers["lambda-runtime-invoked-function-arn"],
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    awsRequestId: headers["lambda-runtime-aws-request-id"],
    logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME,
    identity: parse(headers["lambda-runtime-cognito-identity"]),
    clientContext: parse(headers["lambda-runtime-client-context"]),
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
  };
}

function run(handler, event, ctx) {
  return new Promise((resolve, reject) => {
    let settled = false;
    const settle = (error, value) => {
      if (settled) return;
      settled = true;
      if (error !== undefined && error !== null) reject(error); else resolve(value);
    };
    ctx.done = settle;
    ctx.succeed = (value) => settle(null, value);
    ctx.fail = (error) => settle(error || new Error("handled"));
    try {
      const out = handler(event, ctx, settle);
      if (out && typeof out.then === "function") out.then((value) => settle(null, value), settle);
      else if (handler.length < 3) settle(null, out);
    } catch (error) {
      settle(error);
    }
  });
}

async function main() {
  let handler;
  try {
    handler = await loadHandler();
  } catch (error) {
    const body = errorBody(error, error.name);
    console.error(JSON.stringify(body));
    await call("POST", "/init/error", JSON.stringify(body),
      { "Lambda-Runtime-Function-Error-Type": body.errorType, "Content-Type": "application/json" });
    process.exit(1);
  }
  for (;;) {
    const next = await call("GET", "/invocation/next");
    const id = next.headers["lambda-runtime-aws-request-id"];
    currentRequestId = id;
    if (next.headers["lambda-runtime-trace-id"]) process.env._X_AMZN_TRACE_ID = next.headers["lambda-runtime-trace-id"];
    let event;
    try {
      event = JSON.parse(next.body);
    } catch (error) {
      const body = errorBody(error, "Runtime.UnmarshalError");
      await call("POST", `/invocation/${id}/error`, JSON.stringify(body),
        { "Lambda-Runtime-Function-Error-Type": body.errorType });
      continue;
    }
    try {
      const result = await run(handler, event, context(next.headers));
      let text;
      try {
        text = JSON.stringify(result === undefined ? null : result);
      } catch (error) {
        throw new FaultError("Runtime.MarshalError", `Unable to stringify response body: ${error.message}`);
      }
      await call("POST", `/invocation/${id}/response`, text, { "Content-Type": "application/json" });
    } catch (error) {
      const body = errorBody(error, error instanceof FaultError ? error.name : undefined);
      console.error(`Invoke Error \t${JSON.stringify(body)}`);
      await call("POST", `/invocation/${id}/error`, JSON.stringify(body),
        { "Lambda-Runtime-Function-Error-Type": body.errorType, "Content-Type": "application/json" });
    }
  }
}

main().catch((error) => {
  process.stderr.write(`lambdalab node runtime: ${error && error.stack}\n`);
  process.exit(1);
});
