import { configSchema, DEFAULTS, type Config } from "../../schemas/config.ts";
import type { OptionValues } from "./command.ts";
import { UsageError } from "../errors.ts";
import { checkHugoSite } from "../../site-widgets/site-paths.ts";

/** Merges flags (already merged with their environment variables) and defaults into a typed Config. */
export function resolveConfig(values: OptionValues, env: NodeJS.ProcessEnv): Config {
  const str = (key: string) => (typeof values[key] === "string" ? (values[key] as string) : undefined);
  const result = configSchema.safeParse({
    db: str("db") ?? DEFAULTS.db,
    portal: str("portal") ?? DEFAULTS.portal,
    dataset: str("dataset") ?? DEFAULTS.dataset,
    appToken: env.SOCRATA_APP_TOKEN || undefined,
    site: str("site"),
    logFormat: str("log-format"),
    debug: values.debug === true,
  });
  if (!result.success) {
    const issue = result.error.issues[0];
    const flag = { appToken: "SOCRATA_APP_TOKEN", logFormat: "--log-format" }[String(issue.path[0])] ?? `--${String(issue.path[0])}`;
    const given = str(String(issue.path[0]));
    throw new UsageError(`${flag}${given !== undefined ? ` "${given}"` : ""} ${issue.message}`);
  }
  // once, for every command that writes into the site, before it does anything else
  if (result.data.site !== undefined) checkHugoSite(result.data.site);
  return result.data;
}
