import type { ConversationKey } from "./conversations.js";

/** What this browser remembers about notifications for one user. */
export interface NotifySettings {
  /** Desktop notifications wanted (the browser's permission is asked when this is turned on). */
  enabled: boolean;
  /** A short beep with each notification. @default false */
  sound: boolean;
  /** Conversations that give no notification, no sound and no tab-title count. */
  muted: ConversationKey[];
}

const settingsKey = (userId: string) => `chat.notify.v1.${userId}`;

function loadSettings(userId: string): NotifySettings {
  try {
    const value = JSON.parse(localStorage.getItem(settingsKey(userId)) ?? "null") as Partial<NotifySettings> | null;
    return {
      enabled: value?.enabled === true,
      sound: value?.sound === true,
      muted: Array.isArray(value?.muted) ? value.muted.filter((key) => /^(room|user):./.test(key)) : [],
    };
  } catch {
    return { enabled: false, sound: false, muted: [] };
  }
}

/** What a notification is about. */
export interface Alert {
  key: ConversationKey;
  title: string;
  body: string;
  /** The message mentions me: it notifies in a muted conversation too. */
  mention: boolean;
}

/** What the notifier needs from the app. */
export interface NotifierContext {
  userId: string;
  /** Opens a conversation (the notification was clicked). */
  open(key: ConversationKey): void;
  /** The settings changed: re-render the toggles and the counts. */
  changed(): void;
}

const supported = () => typeof window.Notification === "function";

/**
 * Desktop notifications, the optional beep and per-conversation mute. Permission is asked only from
 * `allow`, i.e. on a click (Save in the profile dialog): browsers penalise (and users hate) a prompt at load.
 *
 * Mute: a muted conversation gives no notification or sound for ordinary messages and its unread count
 * stays out of the tab title (the sidebar still shows it, dimmed). A message that mentions me pierces the
 * mute, as in most chat apps: being called by name is what a mute is not meant to hide.
 */
export class Notifier {
  private readonly settings: NotifySettings;
  private audio: AudioContext | undefined;

  constructor(private readonly context: NotifierContext) {
    this.settings = loadSettings(context.userId);
  }

  /** Whether this browser has the Notification API at all. */
  get supported(): boolean {
    return supported();
  }

  /** Notifications are wanted and allowed. */
  get enabled(): boolean {
    return this.settings.enabled && supported() && Notification.permission === "granted";
  }

  get sound(): boolean {
    return this.settings.sound;
  }

  isMuted(key: ConversationKey): boolean {
    return this.settings.muted.includes(key);
  }

  /**
   * Asks the browser's permission to show notifications when it was never given nor refused (call from a
   * click); answers whether notifications may be shown.
   */
  async allow(): Promise<boolean> {
    if (!supported()) return false;
    const permission =
      Notification.permission === "default" ? await Notification.requestPermission() : Notification.permission;
    return permission === "granted";
  }

  /** Keeps the user's choices (desktop notifications wanted, sound); `allow` first when turning them on. */
  set(choices: { enabled: boolean; sound: boolean }): void {
    this.settings.enabled = choices.enabled;
    this.settings.sound = choices.sound;
    // Created on this click (Save): browsers keep an AudioContext made without a gesture suspended.
    if (choices.sound) this.audioContext();
    this.save();
  }

  toggleMute(key: ConversationKey): void {
    this.settings.muted = this.isMuted(key)
      ? this.settings.muted.filter((muted) => muted !== key)
      : [...this.settings.muted, key];
    this.save();
  }

  /** Notifies of a message, if the tab is hidden and the conversation not muted (unless it mentions me). */
  notify(alert: Alert): void {
    if (document.visibilityState === "visible") return;
    if (this.isMuted(alert.key) && !alert.mention) return;
    if (this.settings.sound) this.beep();
    if (!this.enabled) return;
    const notification = new Notification(alert.title, { body: alert.body, tag: alert.key });
    notification.onclick = () => {
      window.focus();
      this.context.open(alert.key);
      notification.close();
    };
  }

  private save(): void {
    try {
      localStorage.setItem(settingsKey(this.context.userId), JSON.stringify(this.settings));
    } catch {
      // Storage full or disabled: the settings last for this visit.
    }
    this.context.changed();
  }

  private audioContext(): AudioContext | undefined {
    if (typeof AudioContext !== "function") return undefined;
    this.audio ??= new AudioContext();
    return this.audio;
  }

  /** A short, quiet 880 Hz beep. */
  private beep(): void {
    const audio = this.audioContext();
    if (!audio) return;
    const oscillator = audio.createOscillator();
    const gain = audio.createGain();
    oscillator.frequency.value = 880;
    gain.gain.setValueAtTime(0.08, audio.currentTime);
    gain.gain.exponentialRampToValueAtTime(0.0001, audio.currentTime + 0.15);
    oscillator.connect(gain).connect(audio.destination);
    oscillator.start();
    oscillator.stop(audio.currentTime + 0.15);
  }
}
