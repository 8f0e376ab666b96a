import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Ajv2020 } from "ajv/dist/2020.js";
import type { FastifyInstance } from "fastify";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { API_ROUTES } from "../server/http/api-routes.js";
import { openApiDocument, type JsonSchema, type OpenApiDocument, type Operation } from "../server/http/openapi.js";
import { webClientDir } from "../server/project.js";
import { packageVersion } from "../server/version.js";
import { ADMIN_KEY, cleanup, connect, PUSH_KEY, signToken, startServer, type TestServer } from "./support/harness.js";

/*
 * GET /api/openapi.json: a well-formed OpenAPI 3.1 document, listing exactly the routes fastify serves, whose
 * documented answers are what the server really answers (statuses, media types, and bodies validated with Ajv's
 * JSON Schema 2020-12 dialect, the one OpenAPI 3.1 uses). GET /api/docs renders it for people, offline.
 */

afterEach(cleanup);

const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

/** `METHOD /path` of every route fastify has, read from `printRoutes`' tree (one line per node, 4 columns a level). */
function registeredRoutes(app: FastifyInstance): string[] {
  const stack: string[] = [];
  const routes: string[] = [];
  for (const line of app.printRoutes({ commonPrefix: false }).split("\n")) {
    const match = /^([│├└─\s]*)(\S+?)(?: \(([A-Z, ]+)\))?$/.exec(line);
    if (!match || match[2] === undefined) continue;
    const depth = match[1]!.length / 4;
    stack.length = depth - 1;
    stack.push(match[2]);
    for (const method of match[3]?.split(", ") ?? []) routes.push(`${method} ${stack.join("")}`);
  }
  return routes;
}

/** `METHOD /path` of every operation of the document, in fastify's path syntax. */
function documentedRoutes(document: OpenApiDocument): string[] {
  return Object.entries(document.paths).flatMap(([path, methods]) =>
    Object.keys(methods).map((method) => `${method.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ":$1")}`),
  );
}

let server: TestServer;
let document: OpenApiDocument;
const ajv = new Ajv2020({ strict: true, allErrors: true });
// Keywords OpenAPI and zod's output may carry that Ajv's strict mode would otherwise refuse.
ajv.addVocabulary(["example"]);

beforeEach(async () => {
  server = await startServer();
  const response = await fetch(`${server.url}/api/openapi.json`);
  expect(response.status).toBe(200);
  document = (await response.json()) as OpenApiDocument;
});

/** The operation the document has for `method path` (path in OpenAPI syntax). */
function operationOf(method: string, path: string): Operation {
  const op = document.paths[path]?.[method.toLowerCase()];
  if (!op) throw new Error(`${method} ${path} is not in the document`);
  return op;
}

/** Checks a real answer against the documented one: status, media type, and the JSON body against its schema. */
async function expectDocumented(method: string, path: string, response: Response): Promise<void> {
  const documented = operationOf(method, path).responses[String(response.status)];
  expect(documented, `${method} ${path} answered ${response.status}, which is not documented`).toBeDefined();
  if (documented!.content === undefined) {
    // An answer documented without a body (204) has none.
    expect(await response.text(), `${method} ${path} ${response.status}`).toBe("");
    return;
  }
  const type = (response.headers.get("content-type") ?? "").split(";")[0]!.trim();
  const content = documented!.content ?? {};
  expect(Object.keys(content), `${method} ${path} ${response.status} answered ${type}`).toContain(type);
  const schema = content[type]?.schema;
  if (type === "application/json") {
    expect(schema, `${method} ${path} ${response.status} has no schema`).toBeDefined();
    const body: unknown = await response.json();
    const validate = ajv.compile(schema!);
    expect(
      validate(body),
      `${method} ${path} ${response.status}: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(body)}`,
    ).toBe(true);
  } else {
    await response.arrayBuffer();
  }
}

const json = (body: unknown, headers: Record<string, string> = {}) => ({
  method: "POST",
  headers: { "content-type": "application/json", ...headers },
  body: JSON.stringify(body),
});

describe("the OpenAPI document", () => {
  it("is a well-formed OpenAPI 3.1 document, the one the route table makes", () => {
    expect(document).toEqual(openApiDocument(API_ROUTES, packageVersion()));
    expect(document.openapi).toBe("3.1.0");
    expect(document.info).toMatchObject({ title: expect.any(String), version: packageVersion() });
    const tags = new Set(document.tags.map((tag) => tag.name));
    const ids = new Set<string>();
    for (const [path, methods] of Object.entries(document.paths)) {
      expect(path).toMatch(/^\/[^\s:]*$/);
      for (const [method, op] of Object.entries(methods)) {
        const where = `${method} ${path}`;
        expect(METHODS, where).toContain(method);
        expect(ids.has(op.operationId), `${where}: operationId ${op.operationId} twice`).toBe(false);
        ids.add(op.operationId);
        expect(op.summary, where).toMatch(/\S/);
        for (const tag of op.tags) expect(tags, where).toContain(tag);
        // Every security requirement names a scheme of the document.
        for (const requirement of op.security) {
          for (const name of Object.keys(requirement)) expect(document.components.securitySchemes).toHaveProperty(name);
        }
        // Each {name} of the path is exactly one required path parameter, and there are no others.
        const templated = [...path.matchAll(/\{(\w+)\}/g)].map((match) => match[1]);
        const pathParams = (op.parameters ?? []).filter((parameter) => parameter.in === "path");
        expect(pathParams.map((parameter) => parameter.name).sort(), where).toEqual(templated.sort());
        for (const parameter of op.parameters ?? []) {
          expect(["path", "query"], where).toContain(parameter.in);
          if (parameter.in === "path") expect(parameter.required, where).toBe(true);
        }
        expect(Object.keys(op.responses).length, where).toBeGreaterThan(0);
        for (const [status, response] of Object.entries(op.responses)) {
          expect(status, where).toMatch(/^[1-5]\d\d$/);
          expect(response.description, `${where} ${status}`).toMatch(/\S/);
        }
        // Every schema is valid JSON Schema 2020-12 (Ajv compiles it in strict mode).
        const schemas: JsonSchema[] = [
          ...(op.parameters ?? []).map((parameter) => parameter.schema),
          ...Object.values(op.requestBody?.content ?? {}).map((media) => media.schema),
          ...Object.values(op.responses).flatMap((response) =>
            Object.values(response.content ?? {}).flatMap((media) => (media.schema ? [media.schema] : [])),
          ),
        ];
        for (const schema of schemas) expect(() => ajv.compile(schema), where).not.toThrow();
      }
    }
    for (const [name, scheme] of Object.entries(document.components.securitySchemes)) {
      expect(scheme, name).toMatchObject({ type: "http", scheme: "bearer" });
    }
  });

  it("lists every route fastify serves, and no other", () => {
    const web = webClientDir();
    const registered = registeredRoutes(server.server.app).filter(
      (route) =>
        // HEAD comes with each GET; OPTIONS * is the CORS preflight of @fastify/cors.
        !route.startsWith("HEAD ") &&
        route !== "OPTIONS *" &&
        // The web client's files, one route each (@fastify/static); "/" stands for them in the document.
        !(route.startsWith("GET /") && route !== "GET /" && existsSync(join(web, route.slice("GET /".length)))),
    );
    expect(registered.length).toBeGreaterThan(10);
    expect(registered.sort()).toEqual(documentedRoutes(document).sort());
  });

  it("documents the authentication of each route as the server enforces it", async () => {
    for (const [path, methods] of Object.entries(document.paths)) {
      for (const [method, op] of Object.entries(methods)) {
        if (op.security.length === 0) continue;
        // Without credentials: 401, documented (the body is not needed: the check runs first).
        const url = `${server.url}${path.replace(/\{\w+\}/g, "x")}`;
        const response = await fetch(url, { method: method.toUpperCase() });
        expect(response.status, `${method} ${path}`).toBe(401);
        await expectDocumented(method, path, response);
      }
    }
    expect(operationOf("GET", "/api/me").security).toEqual([{ userToken: [] }]);
    expect(operationOf("POST", "/api/files").security).toEqual([{ userToken: [] }]);
    expect(operationOf("POST", "/api/push").security).toEqual([{ pushApiKey: [] }]);
    expect(operationOf("POST", "/send").security).toEqual([{ pushApiKey: [] }]);
    expect(operationOf("GET", "/api/admin/stats").security).toEqual([{ adminApiKey: [] }, { userToken: [] }]);
    expect(operationOf("DELETE", "/api/admin/webhooks/{id}").security).toEqual([
      { adminApiKey: [] },
      { userToken: [] },
    ]);
  });

  it("describes what the server really answers, success and error, route by route", async () => {
    const at = (path: string, init?: RequestInit) => fetch(`${server.url}${path}`, init);
    const check = async (method: string, path: string, url: string, init?: RequestInit) => {
      const response = await at(url, { method, ...init });
      const status = response.status;
      await expectDocumented(method, path, response);
      return status;
    };

    // Auth.
    const credentials = { username: "OpenAlice", password: "correct horse" };
    expect(await check("POST", "/api/auth/register", "/api/auth/register", json(credentials))).toBe(201);
    expect(await check("POST", "/api/auth/register", "/api/auth/register", json(credentials))).toBe(409);
    expect(await check("POST", "/api/auth/register", "/api/auth/register", json({ username: "x" }))).toBe(400);
    expect(await check("POST", "/api/auth/login", "/api/auth/login", json(credentials))).toBe(200);
    const wrong = { ...credentials, password: "wrong horse" };
    expect(await check("POST", "/api/auth/login", "/api/auth/login", json(wrong))).toBe(401);
    const token = signToken("openalice");
    const bearer = { authorization: `Bearer ${token}` };
    expect(await check("GET", "/api/me", "/api/me", { headers: bearer })).toBe(200);
    const bad = { authorization: "Bearer not-a-token" };
    expect(await check("GET", "/api/me", "/api/me", { headers: bad })).toBe(401);

    // Files.
    const png = Buffer.from(
      "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==",
      "base64",
    );
    const form = new FormData();
    form.append("file", new Blob([new Uint8Array(png)]), "pixel.png");
    const uploaded = await at("/api/files", { method: "POST", body: form, headers: bearer });
    expect(uploaded.status).toBe(201);
    const { url: fileUrl } = (await uploaded.clone().json()) as { url: string };
    await expectDocumented("POST", "/api/files", uploaded);
    expect(await check("POST", "/api/files", "/api/files", json({}, bearer))).toBe(400);
    const file = await at(fileUrl);
    expect(file.status).toBe(200);
    expect(file.headers.get("content-type")).toBe("image/png");
    // The documented bytes are `application/octet-stream`: any type; only the status and the missing cases here.
    await file.arrayBuffer();
    expect(operationOf("GET", "/files/{id}").responses["200"]!.content).toHaveProperty(["application/octet-stream"]);
    expect(await check("GET", "/files/{id}", "/files/not-a-file-id")).toBe(404);
    expect(await check("GET", "/files/{id}", "/files/AAAAAAAAAAAAAAAAAAAAAA")).toBe(404);

    // Push, with a socket of the user connected so that `delivered` counts it.
    await connect(server, "openalice");
    const push = { authorization: `Bearer ${PUSH_KEY}` };
    const pushed = json({ to: { user: "openalice" }, content: "from the test" }, push);
    expect(await check("POST", "/api/push", "/api/push", pushed)).toBe(202);
    const toNobody = json({ to: { user: "nobody" }, content: "x" }, push);
    expect(await check("POST", "/api/push", "/api/push", toNobody)).toBe(404);
    expect(await check("POST", "/api/push", "/api/push", json({ to: {} }, push))).toBe(400);
    expect(await check("POST", "/send", "/send?uid=openalice&message=hello", { headers: push })).toBe(202);
    const form2 = {
      headers: { ...push, "content-type": "application/x-www-form-urlencoded" },
      body: "uid=openalice&message=hi",
    };
    expect(await check("POST", "/send", "/send", form2)).toBe(202);
    expect(await check("POST", "/send", "/send?uid=openalice", { headers: push })).toBe(400);

    // Operations and reference.
    const admin = { authorization: `Bearer ${ADMIN_KEY}` };
    expect(await check("GET", "/api/admin/stats", "/api/admin/stats", { headers: admin })).toBe(200);

    // Webhooks.
    const hooks = "/api/admin/webhooks";
    const made = await at(hooks, json({ url: "http://127.0.0.1:9/hook", events: ["user.created"] }, admin));
    expect(made.status).toBe(201);
    const { id: hookId } = (await made.clone().json()) as { id: string };
    await expectDocumented("POST", hooks, made);
    expect(await check("POST", hooks, hooks, json({ url: "x", events: ["nope"] }, admin))).toBe(400);
    expect(await check("GET", hooks, hooks, { headers: admin })).toBe(200);
    await at("/api/auth/register", json({ username: "hooked", password: "correct horse" }));
    const deliveriesPath = `${hooks}/{id}/deliveries`;
    expect(await check("GET", deliveriesPath, `${hooks}/${hookId}/deliveries?limit=5`, { headers: admin })).toBe(200);
    expect(await check("GET", deliveriesPath, `${hooks}/${hookId}/deliveries?limit=0`, { headers: admin })).toBe(400);
    expect(await check("GET", deliveriesPath, `${hooks}/nope/deliveries`, { headers: admin })).toBe(404);
    const listed = (await (await at(`${hooks}/${hookId}/deliveries`, { headers: admin })).json()) as {
      deliveries: { eventId: string }[];
    };
    const retryPath = `${hooks}/{id}/deliveries/{eventId}/retry`;
    const retryUrl = `${hooks}/${hookId}/deliveries/${listed.deliveries[0]!.eventId}/retry`;
    expect(await check("POST", retryPath, retryUrl, { headers: admin })).toBe(202);
    expect(await check("POST", retryPath, `${hooks}/${hookId}/deliveries/evt_nope/retry`, { headers: admin })).toBe(
      404,
    );
    expect(await check("DELETE", `${hooks}/{id}`, `${hooks}/${hookId}`, { headers: admin })).toBe(204);
    expect(await check("DELETE", `${hooks}/{id}`, `${hooks}/${hookId}`, { headers: admin })).toBe(404);
    expect(await check("GET", "/metrics", "/metrics")).toBe(200);
    expect(await check("GET", "/healthz", "/healthz")).toBe(200);
    expect(await check("GET", "/readyz", "/readyz")).toBe(200);
    expect(await check("GET", "/api/version", "/api/version")).toBe(200);
    expect(await check("GET", "/api/openapi.json", "/api/openapi.json")).toBe(200);
    expect(await check("GET", "/api/docs", "/api/docs")).toBe(200);
    expect(await check("GET", "/", "/")).toBe(200);
    expect(await check("GET", "/admin", "/admin")).toBe(200);
  });
});

describe("GET /api/docs", () => {
  it("shows every operation with its schemas, as HTML that needs nothing from elsewhere", async () => {
    const response = await fetch(`${server.url}/api/docs`);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("text/html; charset=utf-8");
    // helmet's CSP applies: no script may run, and the page has none.
    expect(response.headers.get("content-security-policy")).toMatch(/script-src 'self'/);
    const html = await response.text();
    expect(html).not.toMatch(/<script|<link|<img|src=|https?:\/\//i);
    expect(html).toContain('<a href="/api/openapi.json">');
    for (const [path, methods] of Object.entries(document.paths)) {
      for (const method of Object.keys(methods)) {
        expect(html).toContain(`<span class="method">${method.toUpperCase()}</span> <code>${path}</code>`);
      }
    }
    expect(html).toContain("Bearer ADMIN_API_KEY");
    expect(html).toContain("&quot;pattern&quot;: &quot;^[A-Za-z0-9_.-]{3,32}$&quot;");
  });
});

describe("the prose documentation", () => {
  const read = (path: string) => readFileSync(new URL(`../${path}`, import.meta.url), "utf8");
  /** `METHOD /path` with path parameters as `:param`, whatever their names. */
  const normal = (route: string) => route.replace(/\{\w+\}|:\w+/g, ":param");

  it("docs/protocol.md has a heading for every route of the document, and the README's HTTP table names each", () => {
    const routes = documentedRoutes(openApiDocument(API_ROUTES, packageVersion())).map(normal);
    const headings = [...read("docs/protocol.md").matchAll(/^#### `([A-Z]+ \/[^`]*)`$/gm)].map((match) =>
      normal(match[1]!),
    );
    expect(headings.sort()).toEqual([...routes].sort());
    const readme = read("README.md");
    const table = readme.slice(readme.indexOf("**HTTP.**"), readme.indexOf("**Files.**"));
    const named = [...new Set([...table.matchAll(/`([A-Z]+ \/[^`]*)`/g)].map((match) => normal(match[1]!)))];
    // The web client's `GET /` is described in the README's "Web client" section instead.
    expect(named.sort()).toEqual(routes.filter((route) => route !== "GET /").sort());
  });
});
