import type { StoredMessage } from "../../../shared/schemas.js";
import { keyPair, messageColumns, type MessageRow } from "../rows.js";
import { SEARCH_CANDIDATES, type ConversationKeys, type SearchRepository } from "../types.js";
import type { PgDatabase } from "./db.js";
import { queryArrays } from "./db.js";

/**
 * The combining marks SQLite's unicode61 tokenizer (`remove_diacritics 2`) counts as part of a token and then
 * drops; other marks separate tokens there (measured against FTS5 for every code point up to U+2FFFF).
 */
const DIACRITICS = "\\u0300-\\u0304\\u0306-\\u030c\\u030f\\u0311\\u031b\\u0323-\\u0328\\u032d\\u032e\\u0330\\u0331";
/** A token: letters, digits, private-use and unassigned code points, and those diacritics (as unicode61). */
const TOKEN = new RegExp(`[\\p{L}\\p{N}\\p{Co}\\p{Cn}${DIACRITICS}]+`, "gu");
const DIACRITIC = new RegExp(`[${DIACRITICS}]`, "u");
/** Every character below U+0080 (written without the control characters eslint refuses in a pattern). */
const ASCII = /^[^\u0080-\u{10ffff}]*$/u;
const MARKS = /\p{M}/gu;
/** unicode61's case folding where it differs from lower-casing: the Greek and Latin variant forms. */
const FOLD = new Map([
  ["\u00b5", "\u03bc"],
  ["\u017f", "s"],
  ["\u1e9b", "s"],
  ["\u03c2", "\u03c3"],
  ["\u03d0", "\u03b2"],
  ["\u03d1", "\u03b8"],
  ["\u03d5", "\u03c6"],
  ["\u03d6", "\u03c0"],
  ["\u03f0", "\u03ba"],
  ["\u03f1", "\u03c1"],
  ["\u03f5", "\u03b5"],
  ["\u1fbe", "\u03b9"],
]);
/** The one Latin letter with an ASCII base whose diacritics unicode61 keeps: ǡ (a, dot above, macron). */
const KEPT = "\u01e1";
/** PostgreSQL's longest lexeme, in UTF-8 bytes; a longer word is cut (at a character) to this. */
const MAX_LEXEME_BYTES = 2047;
/** PostgreSQL's highest position in a tsvector; later words share it. */
const MAX_POSITION = 16383;

/** One token as unicode61 folds it: lower case, and Latin letters without their diacritics. */
function fold(token: string): string {
  if (ASCII.test(token)) return cut(token.toLowerCase());
  let folded = "";
  for (const char of token) {
    if (DIACRITIC.test(char)) continue;
    let lower = FOLD.get(char) ?? char.toLowerCase();
    // Lower-casing may add a mark (İ gives i and a combining dot): those go with the others.
    if (lower !== KEPT && (lower.length > 1 || lower.charCodeAt(0) >= 0x80)) {
      const decomposed = lower.normalize("NFD");
      if (decomposed.charCodeAt(0) < 0x80) lower = decomposed.replace(MARKS, "");
    }
    folded += lower;
  }
  return cut(folded);
}

/** A lexeme cut, at a character, to the longest PostgreSQL takes (a longer word fails the whole tsvector). */
function cut(lexeme: string): string {
  if (lexeme.length <= MAX_LEXEME_BYTES / 4 || Buffer.byteLength(lexeme) <= MAX_LEXEME_BYTES) return lexeme;
  let kept = "";
  let bytes = 0;
  for (const char of lexeme) {
    bytes += Buffer.byteLength(char);
    if (bytes > MAX_LEXEME_BYTES) break;
    kept += char;
  }
  return kept;
}

/**
 * The words of a text as the SQLite store's full-text index holds them (FTS5's unicode61 tokenizer with
 * `remove_diacritics 2`), so that both stores find the same messages: `alice@example.com` is three words,
 * `Café` matches `cafe`, and a mark such as a Devanagari vowel sign separates words. They differ only for
 * characters Unicode assigned (or gave a lower case) after version 6.1, unicode61's tables.
 */
export function searchLexemes(text: string): string[] {
  const lexemes: string[] = [];
  for (const [token] of text.matchAll(TOKEN)) {
    const lexeme = fold(token);
    if (lexeme !== "") lexemes.push(lexeme);
  }
  return lexemes;
}

/** A lexeme quoted for tsvector/tsquery input: quotes doubled, backslashes escaped, taken verbatim. */
const quoteLexeme = (lexeme: string): string => `'${lexeme.replace(/\\/g, "\\\\").replace(/'/g, "''")}'`;

/**
 * The `search` column's value for a message's text (a tsvector in its input syntax, passed as a parameter):
 * each lexeme with its positions, so phrases and ranking work; null when the text has no word.
 */
export function searchVector(content: string | null | undefined): string | null {
  if (content === null || content === undefined) return null;
  const positions = new Map<string, number[]>();
  let position = 0;
  for (const lexeme of searchLexemes(content)) {
    position = Math.min(position + 1, MAX_POSITION);
    const list = positions.get(lexeme);
    if (list) list.push(position);
    else positions.set(lexeme, [position]);
  }
  if (positions.size === 0) return null;
  return Array.from(positions, ([lexeme, at]) => `${quoteLexeme(lexeme)}:${at.join(",")}`).join(" ");
}

/**
 * The tsqueries of a search (in input syntax, passed as parameters, never spliced into SQL): `match` needs
 * every word (a word that folds into several lexemes, as FTS5 reads a quoted string, is a phrase of them);
 * `rank` is any of the lexemes, for ts_rank's per-word scoring. Undefined when no word has a lexeme (FTS5
 * matches nothing then; a word without one is ignored beside others, as FTS5 does).
 */
export function searchQuery(words: readonly string[]): { match: string; rank: string } | undefined {
  const phrases = words.map((word) => searchLexemes(word)).filter((lexemes) => lexemes.length > 0);
  if (phrases.length === 0) return undefined;
  const match = phrases
    .map((lexemes) => (lexemes.length === 1 ? quoteLexeme(lexemes[0]!) : `(${lexemes.map(quoteLexeme).join(" <-> ")})`))
    .join(" & ");
  const rank = [...new Set(phrases.flat())].map(quoteLexeme).join(" | ");
  return { match, rank };
}

/**
 * Full-text search over what a user may see (the SQLite store's SEARCH_SQL, same visibility rules): the
 * newest `$4` matches (of the conversation `$5`/`$6` when given) are examined, those the user may see and
 * not deleted are ranked, best first (ts_rank of the words, normalised by the message's length as bm25
 * favours short matches), then newest. The GIN index on `search` finds the matches (or, for a common word,
 * the primary key read backwards until enough match); the candidates are then read by id, at most `$4`
 * index probes. The store writes `search` in the same statement as the text, so a search sees every
 * committed message.
 */
export function searchSql(inConversation: boolean): string {
  return `
  SELECT ${messageColumns("m.")} FROM messages m
  WHERE m.id = ANY (ARRAY (
      SELECT id FROM messages WHERE search @@ $2::tsquery ${inConversation ? "AND conversation IN ($6, $7)" : ""}
      ORDER BY id DESC LIMIT $4))
    AND m.deleted_at IS NULL
    AND (
      m.conversation IN (SELECT 'r:' || room_id FROM room_members WHERE user_id = $1)
      OR m.recipient_user = $1
      OR (m.sender = $1 AND m.message_type = 'single')
      OR m.conversation = '*'
    )
  ORDER BY ts_rank(m.search, $3::tsquery, 1) DESC, m.id DESC LIMIT $5`;
}

const SEARCH_ALL = searchSql(false);
const SEARCH_CONVERSATION = searchSql(true);

/** Full-text search on PostgreSQL. */
export class PgSearch implements SearchRepository {
  constructor(private readonly db: PgDatabase) {}

  async search(
    userId: string,
    words: readonly string[],
    conversation: ConversationKeys | undefined,
    limit: number,
  ): Promise<StoredMessage[]> {
    const query = searchQuery(words);
    if (query === undefined) return [];
    const values: unknown[] = [userId, query.match, query.rank, SEARCH_CANDIDATES, limit];
    if (conversation !== undefined) values.push(...keyPair(conversation));
    const sql = conversation === undefined ? SEARCH_ALL : SEARCH_CONVERSATION;
    const rows = await queryArrays<MessageRow>(this.db.pool, sql, values);
    return rows.map(this.db.toMessage);
  }
}
