import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { HTTP_STATUS, type ErrorCode } from "../../shared/errors.js";
import { httpErrorSchema } from "../../shared/http.js";
import { apiReferencePage } from "./api-docs-page.js";

/** How a route is authenticated; each is an `Authorization: Bearer` header. */
export type RouteAuth = "userToken" | "pushApiKey" | "adminApiKey";

/** One answer of a route other than an error. */
export interface ResponseDoc {
  description: string;
  /** The body's schema (JSON), or none for a body that is not JSON (bytes, text, HTML). */
  schema?: z.ZodType;
  /** @default "application/json"; null for an answer without a body (204) */
  contentType?: string | null;
}

/** One HTTP route as the OpenAPI document and the reference page describe it. */
export interface RouteDoc {
  method: "GET" | "POST" | "DELETE";
  /** The path as fastify has it (`/files/:id`). */
  url: string;
  operationId: string;
  tag: string;
  summary: string;
  description?: string;
  /** How it is authenticated; several are alternatives (any one will do). */
  auth?: RouteAuth | RouteAuth[];
  /** Path parameters: the keys of the fastify path's `:name` segments. */
  params?: z.ZodObject;
  /** Query fields, each one parameter. */
  query?: z.ZodObject;
  /** The request body: one schema, accepted in each of `contentTypes`. */
  body?: { schema: z.ZodType; contentTypes: string[]; required: boolean };
  /** Successful answers by status. */
  responses: Record<number, ResponseDoc>;
  /** Error codes the route answers with, each as its status and `{ error: { code, message } }`. */
  errors?: ErrorCode[];
}

/** A JSON Schema (2020-12) object, as OpenAPI 3.1 embeds it. */
export type JsonSchema = Record<string, unknown>;

/** The OpenAPI 3.1 document of the HTTP API (only the parts this server writes). */
export interface OpenApiDocument {
  openapi: "3.1.0";
  info: { title: string; version: string; description: string };
  tags: { name: string }[];
  paths: Record<string, Record<string, Operation>>;
  components: { securitySchemes: Record<RouteAuth, Record<string, string>> };
}

/** One operation of the document. */
export interface Operation {
  operationId: string;
  tags: string[];
  summary: string;
  description?: string;
  security: Record<string, string[]>[];
  parameters?: { name: string; in: "path" | "query"; required: boolean; description?: string; schema: JsonSchema }[];
  requestBody?: { required: boolean; content: Record<string, { schema: JsonSchema }> };
  responses: Record<string, { description: string; content?: Record<string, { schema?: JsonSchema }> }>;
}

/** The JSON Schema of a zod schema, as a request is parsed (`input`) or an answer is written (`output`). */
export function jsonSchemaOf(schema: z.ZodType, io: "input" | "output"): JsonSchema {
  // Refinements (UTF-16 lengths, well-formedness) have no JSON Schema form: the field's description says them.
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, {
    target: "draft-2020-12",
    io,
    unrepresentable: "any",
  });
  return rest;
}

const SECURITY_SCHEMES: OpenApiDocument["components"]["securitySchemes"] = {
  userToken: {
    type: "http",
    scheme: "bearer",
    bearerFormat: "JWT",
    description: "A user's token: from register or login, or from the external issuer (JWT_PUBLIC_KEY).",
  },
  pushApiKey: { type: "http", scheme: "bearer", description: "PUSH_API_KEY, as `Authorization: Bearer <key>`." },
  adminApiKey: { type: "http", scheme: "bearer", description: "ADMIN_API_KEY, as `Authorization: Bearer <key>`." },
};

/** Every route answers 503 while the server shuts down. */
const ALWAYS: ErrorCode[] = ["UNAVAILABLE"];

function parameters(schema: z.ZodObject, where: "path" | "query"): NonNullable<Operation["parameters"]> {
  const json = jsonSchemaOf(schema, "input") as { properties?: Record<string, JsonSchema>; required?: string[] };
  return Object.entries(json.properties ?? {}).map(([name, property]) => {
    const { description, ...rest } = property as { description?: string };
    return {
      name,
      in: where,
      required: where === "path" || (json.required ?? []).includes(name),
      ...(description === undefined ? {} : { description }),
      schema: rest,
    };
  });
}

function operation(route: RouteDoc): Operation {
  const responses: Operation["responses"] = {};
  for (const [status, answer] of Object.entries(route.responses)) {
    if (answer.contentType === null) {
      responses[status] = { description: answer.description };
      continue;
    }
    const type = answer.contentType ?? "application/json";
    responses[status] = {
      description: answer.description,
      content: { [type]: answer.schema ? { schema: jsonSchemaOf(answer.schema, "output") } : {} },
    };
  }
  const codes = [...new Set([...(route.errors ?? []), ...ALWAYS])];
  for (const status of [...new Set(codes.map((code) => HTTP_STATUS[code]))].sort((a, b) => a - b)) {
    const these = codes.filter((code) => HTTP_STATUS[code] === status);
    responses[String(status)] = {
      description: these.join(" or "),
      content: { "application/json": { schema: jsonSchemaOf(httpErrorSchema(...these), "output") } },
    };
  }
  const params = [
    ...(route.params ? parameters(route.params, "path") : []),
    ...(route.query ? parameters(route.query, "query") : []),
  ];
  return {
    operationId: route.operationId,
    tags: [route.tag],
    summary: route.summary,
    ...(route.description === undefined ? {} : { description: route.description }),
    // An empty list says "no authentication", explicitly.
    security: [route.auth ?? []].flat().map((scheme) => ({ [scheme]: [] })),
    ...(params.length === 0 ? {} : { parameters: params }),
    ...(route.body === undefined
      ? {}
      : {
          requestBody: {
            required: route.body.required,
            content: Object.fromEntries(
              route.body.contentTypes.map((type) => [type, { schema: jsonSchemaOf(route.body!.schema, "input") }]),
            ),
          },
        }),
    responses,
  };
}

/** The OpenAPI 3.1 document of `routes`, their schemas converted from zod by `z.toJSONSchema`. */
export function openApiDocument(routes: readonly RouteDoc[], version: string): OpenApiDocument {
  const paths: OpenApiDocument["paths"] = {};
  for (const route of routes) {
    const path = route.url.replace(/:(\w+)/g, "{$1}");
    (paths[path] ??= {})[route.method.toLowerCase()] = operation(route);
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "Socket.IO chat server: HTTP API",
      version,
      description:
        "The HTTP routes of the chat server. The real-time protocol is Socket.IO at `/socket.io/` (see docs/protocol.md " +
        "in the repository). Errors are `{ error: { code, message } }` with the status of the code; a path served for " +
        "other methods only answers 405 METHOD_NOT_ALLOWED with an `Allow` header.",
    },
    tags: [...new Set(routes.map((route) => route.tag))].map((name) => ({ name })),
    paths,
    components: { securitySchemes: SECURITY_SCHEMES },
  };
}

/**
 * Serves the document at `GET /api/openapi.json` and a reference page made from it at `GET /api/docs` (plain
 * HTML rendered here, no script and nothing fetched from elsewhere, so it works offline under the strict CSP).
 */
export function registerApiDocs(app: FastifyInstance, routes: readonly RouteDoc[], version: string): void {
  const document = openApiDocument(routes, version);
  const page = apiReferencePage(document);
  app.get("/api/openapi.json", async () => document);
  app.get("/api/docs", async (_request, reply) => reply.type("text/html; charset=utf-8").send(page));
}
