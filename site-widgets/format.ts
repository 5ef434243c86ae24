/**
 * Numbers, dates and names as readers see them: thousands separators, dates in words, times in
 * America/Chicago. Pure; the same input gives the same text on any
 * machine, whatever its time zone.
 */
const CHICAGO = "America/Chicago";

const integer = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
const oneDecimal = new Intl.NumberFormat("en-US", { minimumFractionDigits: 1, maximumFractionDigits: 1 });
// Calendar days are formatted in UTC because a YYYY-MM-DD is parsed as UTC midnight: formatting
// it in any other zone could name the previous day.
const dayWords = new Intl.DateTimeFormat("en-US", { timeZone: "UTC", year: "numeric", month: "long", day: "numeric" });
const monthWords = new Intl.DateTimeFormat("en-US", { timeZone: "UTC", year: "numeric", month: "long" });
const monthShort = new Intl.DateTimeFormat("en-US", { timeZone: "UTC", year: "numeric", month: "short" });
const chicagoDay = new Intl.DateTimeFormat("en-US", { timeZone: CHICAGO, year: "numeric", month: "long", day: "numeric" });
const chicagoTime = new Intl.DateTimeFormat("en-US", { timeZone: CHICAGO, hour: "numeric", minute: "2-digit", timeZoneName: "short" });

/** 15200 → "15,200". */
export function formatCount(n: number): string {
  return integer.format(n);
}

/** 35.333 → "35.3". */
export function formatAverage(n: number): string {
  return oneDecimal.format(n);
}

/** 312.449 → "312.4": deaths per 100,000, to one decimal as NCHS reports rates. */
export function formatRate(n: number): string {
  return oneDecimal.format(n);
}

/** A share as a whole percentage; shares that would round to 0 say so instead. */
export function formatShare(part: number, whole: number): string {
  if (whole === 0) return "0%";
  const share = (part / whole) * 100;
  if (part > 0 && share < 0.5) return "less than 1%";
  return `${Math.round(share)}%`;
}

/** "2020-12-03" → "December 3, 2020". */
export function dateInWords(date: string): string {
  return dayWords.format(utcDay(date));
}

/** "2020-11" → "November 2020". */
export function monthInWords(month: string): string {
  return monthWords.format(utcDay(`${month}-01`));
}

/** "2020-11" → "Nov 2020", for axis labels. */
export function monthLabel(month: string): string {
  return monthShort.format(utcDay(`${month}-01`));
}

/** A UTC instant → "November 26, 2026 at 6:00 AM CST", as a reader in Cook County reads it. */
export function instantInWords(iso: string): string {
  const at = new Date(iso);
  return `${chicagoDay.format(at)} at ${chicagoTime.format(at)}`;
}

/** A UTC instant → its calendar day in Chicago, in words. */
export function instantDayInWords(iso: string): string {
  return chicagoDay.format(new Date(iso));
}

/** "1 person", "41 people". */
export function people(n: number): string {
  return n === 1 ? "1 person" : `${formatCount(n)} people`;
}

/** "1 death", "41 deaths". */
export function deaths(n: number): string {
  return n === 1 ? "1 death" : `${formatCount(n)} deaths`;
}

/** "2020-12-03" as a Date at UTC midnight, for arithmetic and for charts on a UTC scale. */
export function utcDay(date: string): Date {
  return new Date(`${date}T00:00:00Z`);
}

/** "heat-related deaths" → "Heat-related deaths"; "COVID-19 deaths" stays. */
export function capitalized(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
