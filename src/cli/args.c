/* args.c — see args.h. */
#include "args.h"
#include "cli.h"

#include <string.h>

int cli_parse_args(const char *cmd, int argc, char **argv, const cli_opt *opts)
{
    const char *names[64];
    size_t nn = 0;
    for (const cli_opt *o = opts; o->name && nn < 63; o++) names[nn++] = o->name;
    names[nn] = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) return 1;
        if (strncmp(a, "--", 2) != 0)
            return cli_usage_error(cmd, "unexpected argument '%s' (options start with --; see 'ntk %s --help')",
                                   a, cmd);
        const char *eq = strchr(a, '=');
        size_t len = eq ? (size_t)(eq - a) : strlen(a);
        const cli_opt *hit = NULL;
        for (const cli_opt *o = opts; o->name; o++)
            if (strlen(o->name) == len && !strncmp(o->name, a, len)) hit = o;
        if (!hit) {
            char given[64];
            snprintf(given, sizeof given, "%.*s", (int)(len < 63 ? len : 63), a);
            const char *sug = cli_suggest_option(given, names);
            if (sug)
                return cli_usage_error(cmd, "unknown option '%s' (did you mean '%s'?)", given, sug);
            return cli_usage_error(cmd, "unknown option '%s' (see 'ntk %s --help')", given, cmd);
        }
        if (hit->takes_value) {
            const char *v;
            if (eq) v = eq + 1;
            else if (i + 1 < argc) v = argv[++i];
            else return cli_usage_error(cmd, "%s needs a value", hit->name);
            if (!*v) return cli_usage_error(cmd, "%s needs a non-empty value", hit->name);
            if (*hit->value) return cli_usage_error(cmd, "%s given twice", hit->name);
            *hit->value = v;
        } else {
            if (eq) return cli_usage_error(cmd, "%s takes no value", hit->name);
            *hit->flag = 1;
        }
    }
    return 0;
}
