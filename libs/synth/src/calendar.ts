import { asciiViews } from './hex';

/** Local timestamps without zone: times are seconds from midnight of the start date, days have 86 400 s. */

export const DAY = 86_400;

const pad2 = (n: number) => String(n).padStart(2, '0');

let clockTable: string[] | undefined;

/** ` HH:MM:SS` for every second of a day, built once: formatting is on the hot path of every row. */
function secondsOfDay(): string[] {
  if (!clockTable) {
    clockTable = new Array<string>(DAY);
    for (let s = 0; s < DAY; s++) {
      clockTable[s] = ` ${pad2(Math.floor(s / 3600))}:${pad2(Math.floor(s / 60) % 60)}:${pad2(s % 60)}`;
    }
  }
  return clockTable;
}

/** Parses `YYYY-MM-DD` to a UTC epoch day, or undefined if it is not a real calendar date. */
export function parseDate(text: string): number | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  if (!m) return undefined;
  const ms = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  if (new Date(ms).toISOString().slice(0, 10) !== text) return undefined;
  return ms / (DAY * 1000);
}

/** Formats log-relative seconds as `YYYY-MM-DD HH:MM:SS`; UTC calendar maths only, so no zone can shift it. */
export class Clock {
  private readonly dates: string[];
  /** ASCII `YYYY-MM-DD` of each log day, for the row encoder. */
  readonly dateBytes: Uint8Array[];
  /** 0 = Sunday … 6 = Saturday, per log day. */
  readonly weekday: Uint8Array;
  private readonly hms = secondsOfDay();

  constructor(startEpochDay: number, days: number) {
    // Two spare days: an episode or a retry may run past the last day's midnight.
    this.dates = [];
    this.weekday = new Uint8Array(days + 2);
    for (let i = 0; i < days + 2; i++) {
      const d = new Date((startEpochDay + i) * DAY * 1000);
      this.dates.push(d.toISOString().slice(0, 10));
      this.weekday[i] = d.getUTCDay();
    }
    this.dateBytes = asciiViews(this.dates);
  }

  format(t: number): string {
    const day = Math.floor(t / DAY);
    return this.dates[day] + this.hms[t - day * DAY];
  }
}
