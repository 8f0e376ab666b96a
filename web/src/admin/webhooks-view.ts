import { WEBHOOK_EVENT_TYPES, type WebhookEventType } from "../../../shared/webhook-events.js";
import type { Webhook, WebhookCreated, WebhookDelivery } from "../../../shared/webhooks.js";
import { background } from "../background.js";
import { h, replaceChildren } from "../dom.js";
import type { AdminApi } from "./api.js";
import { button, confirmAction, ResultLine, table, when, type AdminView } from "./ui.js";

/** Deliveries shown for an endpoint: the newest events first. */
const DELIVERIES_SHOWN = 50;

/**
 * Webhooks (section 13): the endpoints events are POSTed to, adding one (its signing secret is shown this
 * once), removing one, and an endpoint's recent deliveries with their state and a retry for each.
 */
export class WebhooksView implements AdminView {
  readonly element: HTMLElement;
  private readonly result = new ResultLine();
  private readonly secret = h("div", { class: "admin-secret-slot" });
  private readonly list = h("div", { class: "admin-list" });
  private readonly deliveries = h("div", { class: "admin-deliveries" });
  private webhooks: Webhook[] = [];
  /** The endpoint whose deliveries are shown. */
  private open: Webhook | undefined;

  constructor(private readonly api: AdminApi) {
    this.element = h(
      "section",
      { class: "admin-section", "aria-labelledby": "admin-title" },
      h("h1", { id: "admin-title" }, "Webhooks"),
      h(
        "p",
        { class: "hint" },
        "Business systems learn what happens here through signed HTTP POSTs, retried until they answer 2xx.",
      ),
      this.form(),
      this.result.element,
      this.secret,
      h("h2", {}, "Endpoints"),
      this.list,
      this.deliveries,
    );
    this.load();
  }

  private form(): HTMLFormElement {
    const url = h("input", {
      name: "url",
      type: "url",
      required: true,
      maxlength: "2000",
      placeholder: "https://example.com/chat-events",
      autocomplete: "off",
      spellcheck: "false",
    });
    const boxes = WEBHOOK_EVENT_TYPES.map((type) => h("input", { type: "checkbox", name: "events", value: type }));
    const add = h("button", { type: "submit", class: "button primary" }, "Add endpoint");
    const form = h(
      "form",
      { class: "admin-form", "aria-label": "Add a webhook endpoint" },
      h("label", { class: "field" }, h("span", {}, "URL"), url),
      h(
        "fieldset",
        { class: "choice admin-event-types" },
        h("legend", {}, "Events (none checked: every event, new types included)"),
        ...boxes.map((box) => h("label", {}, box, h("code", {}, box.value))),
      ),
      h("div", { class: "modal-actions" }, add),
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const events = boxes.filter((box) => box.checked).map((box) => box.value as WebhookEventType);
      add.disabled = true;
      background(
        this.api.createWebhook(url.value.trim(), events.length > 0 ? events : undefined).then((answer) => {
          add.disabled = false;
          if (!answer.ok) return this.result.failed(answer.error.message);
          this.result.done(`The endpoint ${answer.data.url} was added.`);
          this.showSecret(answer.data);
          form.reset();
          this.load();
        }),
      );
    });
    return form;
  }

  /** The new endpoint's signing secret: the server never shows it again. */
  private showSecret(created: WebhookCreated): void {
    const dismiss = button("I have saved it", () => replaceChildren(this.secret));
    replaceChildren(
      this.secret,
      h(
        "div",
        { class: "admin-secret", role: "region", "aria-label": "Signing secret" },
        h("p", {}, `Signing secret of ${created.url}, shown this once: keep it where the receiver can read it.`),
        h("code", { class: "admin-secret-value" }, created.secret),
        h("div", { class: "admin-actions" }, dismiss),
      ),
    );
  }

  private load(): void {
    background(
      this.api.webhooks().then((answer) => {
        if (!answer.ok) return this.result.failed(answer.error.message);
        this.webhooks = answer.data.webhooks;
        if (this.open && !this.webhooks.some((webhook) => webhook.id === this.open!.id)) this.showDeliveries();
        this.render();
      }),
    );
  }

  private render(): void {
    replaceChildren(
      this.list,
      table(
        "Webhook endpoints",
        ["URL", "Events", "Set in", "Added", "Actions"],
        this.webhooks.map((webhook) => [
          h("code", {}, webhook.url),
          webhook.events === null ? "Every event" : webhook.events.join(", "),
          webhook.source === "env" ? "WEBHOOK_URL" : "Admin API",
          when(webhook.createdAt),
          h(
            "div",
            { class: "admin-actions" },
            button("Deliveries", () => this.showDeliveries(webhook), { name: `Deliveries to ${webhook.url}` }),
            webhook.source === "api"
              ? button("Remove", () => this.remove(webhook), { danger: true, name: `Remove ${webhook.url}` })
              : null,
          ),
        ]),
        "No endpoint: events are not sent anywhere. Add one above, or set WEBHOOK_URL and WEBHOOK_SECRET.",
      ),
    );
  }

  private remove(webhook: Webhook): void {
    confirmAction(
      this.result,
      {
        title: "Remove this endpoint?",
        text: `${webhook.url} gets no more events, and its deliveries, pending ones included, are dropped.`,
        action: "Remove",
      },
      () => this.api.deleteWebhook(webhook.id),
      () => {
        this.webhooks = this.webhooks.filter((other) => other.id !== webhook.id);
        if (this.open?.id === webhook.id) this.showDeliveries();
        this.render();
        return `The endpoint ${webhook.url} was removed.`;
      },
    );
  }

  /** Shows an endpoint's recent deliveries (none: hides the panel). */
  private showDeliveries(webhook?: Webhook): void {
    this.open = webhook;
    if (!webhook) return replaceChildren(this.deliveries);
    background(
      this.api.webhookDeliveries(webhook.id, DELIVERIES_SHOWN).then((answer) => {
        if (this.open !== webhook) return;
        if (!answer.ok) return this.result.failed(answer.error.message);
        this.renderDeliveries(webhook, answer.data.deliveries);
      }),
    );
  }

  private renderDeliveries(webhook: Webhook, deliveries: WebhookDelivery[]): void {
    replaceChildren(
      this.deliveries,
      h("h2", {}, `Deliveries to ${webhook.url}`),
      h(
        "div",
        { class: "admin-actions" },
        button("Refresh", () => this.showDeliveries(webhook)),
        button("Close", () => this.showDeliveries()),
      ),
      table(
        `Deliveries to ${webhook.url}`,
        ["Event", "Type", "Status", "Attempts", "Last answer", "Next attempt", "Actions"],
        deliveries.map((delivery) => [
          h("code", {}, delivery.eventId),
          delivery.type,
          h(
            "span",
            {
              class: `admin-badge${delivery.status === "delivered" ? " is-on" : delivery.status === "failed" ? " is-bad" : ""}`,
            },
            delivery.status,
          ),
          String(delivery.attempts),
          delivery.lastStatusCode !== undefined ? `HTTP ${delivery.lastStatusCode}` : (delivery.lastError ?? "—"),
          when(delivery.nextAttemptAt),
          button("Retry", () => this.retry(webhook, delivery), {
            name: `Retry ${delivery.type} ${delivery.eventId}`,
          }),
        ]),
        "No deliveries yet (delivered and failed ones are kept for WEBHOOK_RETENTION_MS, 7 days by default).",
      ),
    );
  }

  private retry(webhook: Webhook, delivery: WebhookDelivery): void {
    background(
      this.api.retryWebhookDelivery(webhook.id, delivery.eventId).then((answer) => {
        if (!answer.ok) return this.result.failed(answer.error.message);
        this.result.done(`The ${delivery.type} event ${delivery.eventId} will be sent again now.`);
        this.showDeliveries(webhook);
      }),
    );
  }
}
