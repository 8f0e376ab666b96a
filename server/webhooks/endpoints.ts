import { randomBytes } from "node:crypto";
import {
  MAX_WEBHOOK_ENDPOINTS,
  type Webhook,
  type WebhookCreate,
  type WebhookCreated,
  type WebhookDelivery,
} from "../../shared/webhooks.js";
import { AppError, notFound } from "../errors.js";
import type { WebhookEndpointRecord, WebhookRepository } from "../store/types.js";
import { newWebhookSecret } from "./signature.js";

/** The id of the endpoint configured by `WEBHOOK_URL` and `WEBHOOK_SECRET`. */
export const ENV_WEBHOOK_ID = "env";

/** An endpoint as the admin API lists it (never its secret). */
const listed = (endpoint: WebhookEndpointRecord): Webhook => ({
  id: endpoint.id,
  url: endpoint.url,
  events: endpoint.events,
  source: endpoint.id === ENV_WEBHOOK_ID ? "env" : "api",
  createdAt: endpoint.createAt,
});

/** The admin API's side of webhooks: endpoints, their deliveries, manual retries. */
export class WebhookEndpoints {
  constructor(
    private readonly store: WebhookRepository,
    private readonly now: () => number,
    /** Told when a delivery became due now (the sender looks at once). */
    private readonly due: () => void = () => undefined,
  ) {}

  /**
   * Makes the endpoint of `WEBHOOK_URL` what the configuration says, at boot: created or updated when set,
   * removed (with its deliveries) when not. Every node of a cluster does the same, with the same values.
   */
  async configure(env: { url: string; secret: string } | undefined): Promise<void> {
    if (env === undefined) {
      await this.store.deleteWebhook(ENV_WEBHOOK_ID);
      return;
    }
    await this.store.putWebhook({ id: ENV_WEBHOOK_ID, ...env, events: null, createAt: this.now() });
  }

  /** Creates an endpoint with a new secret, answered this once; CONFLICT beyond MAX_WEBHOOK_ENDPOINTS. */
  async create(input: WebhookCreate): Promise<WebhookCreated> {
    const endpoint: WebhookEndpointRecord = {
      id: `wh_${randomBytes(12).toString("base64url")}`,
      url: input.url,
      secret: newWebhookSecret(),
      events: input.events ?? null,
      createAt: this.now(),
    };
    // The env endpoint counts too: one more than the bound, at most.
    if (!(await this.store.createWebhook(endpoint, MAX_WEBHOOK_ENDPOINTS + 1))) {
      throw new AppError("CONFLICT", `at most ${MAX_WEBHOOK_ENDPOINTS} webhook endpoints; delete one first`);
    }
    return { id: endpoint.id, url: endpoint.url, events: endpoint.events, secret: endpoint.secret };
  }

  async list(): Promise<Webhook[]> {
    return (await this.store.webhooks()).map(listed);
  }

  /** Removes an endpoint and its deliveries; the `WEBHOOK_URL` one is the configuration's (CONFLICT). */
  async remove(id: string): Promise<void> {
    if (id === ENV_WEBHOOK_ID) {
      throw new AppError("CONFLICT", "this endpoint is configured by WEBHOOK_URL: unset it and restart to remove it");
    }
    if (!(await this.store.deleteWebhook(id))) throw notFound("webhook");
  }

  /** An endpoint's deliveries, newest event first. */
  async deliveries(id: string, limit: number): Promise<WebhookDelivery[]> {
    await this.existing(id);
    return this.store.deliveries(id, limit);
  }

  /** Makes a delivery pending and due now, whatever its state (a delivered one is sent again). */
  async retry(id: string, eventId: string): Promise<WebhookDelivery> {
    await this.existing(id);
    const delivery = await this.store.retryDelivery(id, eventId, this.now());
    if (!delivery) throw notFound("delivery");
    this.due();
    return delivery;
  }

  private async existing(id: string): Promise<void> {
    if (!(await this.store.webhooks()).some((endpoint) => endpoint.id === id)) throw notFound("webhook");
  }
}
