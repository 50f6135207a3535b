// The esg command line: the seed's help text byte for byte, defaults, choices, and click-style errors
// (each names the option and means exit status 2).
#include "server/master/cli.h"

#include <gtest/gtest.h>

#include <map>
#include <sstream>

#include "server/master/help_format.h"
#include "server/master/options.h"

namespace esg::cli {
namespace {

// The seed's `esg --help` block (seeds/000_*.txt), the contract for every seed option.
constexpr char kSeedHelp[] = R"SEED(
Usage: esg [OPTIONS] APP

Options:
  --host TEXT                     Bind socket to this host.  [default:
                                  127.0.0.1]
  --port INTEGER                  Bind socket to this port.  [default: 8000]
  --uds TEXT                      Bind to a UNIX domain socket.
  --fd INTEGER                    Bind to socket from this file descriptor.
  --reload                        Enable auto-reload.
  --reload-dir PATH               Set reload directories explicitly, instead
                                  of using the current working directory.
  --reload-include TEXT           Set glob patterns to include while watching
                                  for files. Includes '*.py' by default; these
                                  defaults can be overridden in `--reload-
                                  exclude`.
  --reload-exclude TEXT           Set glob patterns to exclude while watching
                                  for files. Includes '.*, .py[cod], .sw.*,
                                  ~*' by default; these defaults can be
                                  overridden in `--reload-include`.
  --reload-delay FLOAT            Delay between previous and next check if
                                  application needs to be. Defaults to 0.25s.
                                  [default: 0.25]
  --workers INTEGER               Number of worker processes. Defaults to the
                                  $WEB_CONCURRENCY environment variable if
                                  available, or 1. Not valid with --reload.
  --loop [auto|asyncio|uvloop]    Event loop implementation.  [default: auto]
  --ws [auto|none|websockets|wsproto]
                                  WebSocket protocol implementation.
                                  [default: auto]
  --ws-max-size INTEGER           WebSocket max size message in bytes
                                  [default: 16777216]
  --ws-ping-interval FLOAT        WebSocket ping interval  [default: 20.0]
  --ws-ping-timeout FLOAT         WebSocket ping timeout  [default: 20.0]
  --lifespan [auto|on|off]        Lifespan implementation.  [default: auto]
  --interface [auto|asgi3|asgi2|wsgi]
                                  Select ASGI3, ASGI2, or WSGI as the
                                  application interface.  [default: auto]
  --env-file PATH                 Environment configuration file.
  --log-config PATH               Logging configuration file. Supported
                                  formats: .ini, .json, .yaml.
  --log-level [critical|error|warning|info|debug|trace]
                                  Log level. [default: info]
  --access-log / --no-access-log  Enable/Disable access log.
  --use-colors / --no-use-colors  Enable/Disable colorized logging.
  --proxy-headers / --no-proxy-headers
                                  Enable/Disable X-Forwarded-Proto,
                                  X-Forwarded-For, X-Forwarded-Port to
                                  populate remote address info.
  --server-header / --no-server-header
                                  Enable/Disable default Server header.
  --date-header / --no-date-header
                                  Enable/Disable default Date header.
  --forwarded-allow-ips TEXT      Comma seperated list of IPs to trust with
                                  proxy headers. Defaults to the
                                  $FORWARDED_ALLOW_IPS environment variable if
                                  available, or '127.0.0.1'.
  --root-path TEXT                Set the ASGI 'root_path' for applications
                                  submounted below a given URL path.
  --limit-concurrency INTEGER     Maximum number of concurrent connections or
                                  tasks to allow, before issuing HTTP 503
                                  responses.
  --backlog INTEGER               Maximum number of connections to hold in
                                  backlog
  --limit-max-requests INTEGER    Maximum number of requests to service before
                                  terminating the process.
  --timeout-keep-alive INTEGER    Close Keep-Alive connections if no new data
                                  is received within this timeout.  [default:
                                  5]
  --ssl-keyfile TEXT              SSL key file
  --ssl-certfile TEXT             SSL certificate file
  --ssl-keyfile-password TEXT     SSL keyfile password
  --ssl-version INTEGER           SSL version to use (see stdlib ssl module's)
                                  [default: 17]
  --ssl-cert-reqs INTEGER         Whether client certificate is required (see
                                  stdlib ssl module's)  [default: 0]
  --ssl-ca-certs TEXT             CA certificates file
  --ssl-ciphers TEXT              Ciphers to use (see stdlib ssl module's)
                                  [default: TLSv1]
  --header TEXT                   Specify custom default HTTP response headers
                                  as a Name:Value pair
  --version                       Display the esg version and exit.
  --app-dir TEXT                  Look for APP in the specified directory, by
                                  adding this to the PYTHONPATH. Defaults to
                                  the current working directory.  [default: .]
  --factory                       Treat APP as an application factory, i.e. a
                                  () -> <ASGI app> callable.  [default: False]
  --help                          Show this message and exit.
)SEED";

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream stream(text);
  for (std::string line; std::getline(stream, line);) lines.push_back(line);
  return lines;
}

struct Parsed {
  ParseResult result;
  Config config;
};

Parsed ParseArgs(std::vector<std::string> args, std::map<std::string, std::string> env = {}) {
  Parsed run;
  run.result = Parse(
      args,
      [env](const std::string& name) -> std::optional<std::string> {
        auto it = env.find(name);
        if (it == env.end()) return std::nullopt;
        return it->second;
      },
      &run.config);
  return run;
}

// The "Error: ..." line of a usage error.
std::string ErrorLine(const Parsed& run) {
  std::vector<std::string> lines = Lines(run.result.err);
  return lines.empty() ? "" : lines.back();
}

TEST(HelpTest, SeedOptionsAreReproducedExactly) {
  std::vector<std::string> seed = Lines(std::string(kSeedHelp).substr(1));
  std::vector<std::string> help = Lines(HelpText());
  // Every seed line appears, in order; ESG's own options may sit between them.
  size_t at = 0;
  for (const std::string& line : seed) {
    while (at < help.size() && help[at] != line) ++at;
    ASSERT_LT(at, help.size()) << "missing or out of order: [" << line << "]";
    ++at;
  }
  // And nothing but ESG's own rows was added: the help minus those rows is the seed.
  std::vector<std::string> without_esg;
  std::string seed_text(kSeedHelp);
  bool in_esg_row = false;
  for (const std::string& line : help) {
    if (line.rfind("  --", 0) == 0) {
      std::string name = line.substr(2, line.find(' ', 2) - 2);
      in_esg_row = seed_text.find("  " + name + " ") == std::string::npos &&
                   seed_text.find("  " + name + "\n") == std::string::npos;
    }
    if (!in_esg_row) without_esg.push_back(line);
  }
  EXPECT_EQ(without_esg, seed);
}

TEST(HelpTest, EsgOptionsUseTheSameLayout) {
  std::string help = HelpText();
  EXPECT_NE(help.find("  --timeout-graceful-shutdown INTEGER\n                                  Maximum"),
            std::string::npos);
  EXPECT_NE(help.find("  --limit-request-line INTEGER    "), std::string::npos);
  EXPECT_NE(help.find("[default: 8190]"), std::string::npos);
  EXPECT_NE(help.find("  --limit-request-fields INTEGER  "), std::string::npos);
  EXPECT_NE(help.find("  --limit-request-body INTEGER    "), std::string::npos);
  EXPECT_NE(help.find("  --limit-request-head-size INTEGER\n"), std::string::npos);
  EXPECT_NE(help.find("[default: 32768]"), std::string::npos);
  EXPECT_NE(help.find("  --timeout-request-header FLOAT  "), std::string::npos);
  for (const std::string& line : Lines(help)) EXPECT_LE(line.size(), 78u) << line;
  EXPECT_EQ(Lines(help).back(), "  --help                          Show this message and exit.");
}

TEST(HelpTest, WrapTextFollowsPythonTextwrap) {
  // textwrap.wrap(..., 44): breaks after a hyphen inside a word, keeps double spaces mid-line.
  EXPECT_EQ(WrapText("defaults can be overridden in `--reload-exclude`.", 44),
            (std::vector<std::string>{"defaults can be overridden in `--reload-", "exclude`."}));
  EXPECT_EQ(WrapText("Bind socket to this host.  [default: 127.0.0.1]", 44),
            (std::vector<std::string>{"Bind socket to this host.  [default:", "127.0.0.1]"}));
  EXPECT_EQ(WrapText("short", 44), (std::vector<std::string>{"short"}));
  EXPECT_EQ(WrapText("abcdefghij", 4), (std::vector<std::string>{"abcd", "efgh", "ij"}));
  EXPECT_EQ(WrapText("", 44), (std::vector<std::string>{}));
}

TEST(CliTest, HelpAndVersionExitZero) {
  Parsed help = ParseArgs({"--help"});
  EXPECT_FALSE(help.result.run);
  EXPECT_EQ(help.result.exit_code, 0);
  EXPECT_EQ(help.result.out, HelpText());
  Parsed version = ParseArgs({"--version"});
  EXPECT_EQ(version.result.exit_code, 0);
  EXPECT_EQ(version.result.out, "esg 0.1.0\n");
  // Eager: wins over missing APP and invalid values.
  EXPECT_EQ(ParseArgs({"--port", "abc", "--help"}).result.exit_code, 0);
}

TEST(CliTest, DefaultsMatchTheHelpText) {
  Parsed run = ParseArgs({"example:app"});
  ASSERT_TRUE(run.result.run) << run.result.err;
  const Config& c = run.config;
  EXPECT_EQ(c.app, "example:app");
  EXPECT_EQ(c.host, "127.0.0.1");
  EXPECT_EQ(c.port, 8000);
  EXPECT_EQ(c.uds, "");
  EXPECT_EQ(c.fd, -1);
  EXPECT_EQ(c.workers, 1);
  EXPECT_EQ(c.loop, "auto");
  EXPECT_EQ(c.ws, "auto");
  EXPECT_EQ(c.lifespan, "auto");
  EXPECT_EQ(c.interface, "auto");
  EXPECT_EQ(c.log_level, "info");
  EXPECT_TRUE(c.access_log);
  EXPECT_FALSE(c.use_colors.has_value());
  EXPECT_TRUE(c.proxy_headers);
  EXPECT_EQ(c.forwarded_allow_ips, "127.0.0.1");
  EXPECT_EQ(c.timeout_keep_alive, 5);
  EXPECT_EQ(c.app_dir, ".");
  EXPECT_FALSE(c.factory);
  EXPECT_EQ(c.limit_request_line, 8190);
  EXPECT_EQ(c.limit_request_fields, 100);
  EXPECT_EQ(c.limit_request_field_size, 8190);
  EXPECT_EQ(c.limit_request_head_size, 32768);
  EXPECT_EQ(c.limit_request_body, 0);
  EXPECT_EQ(c.timeout_request_header, 30.0);
  EXPECT_FALSE(c.timeout_graceful_shutdown.has_value());
}

TEST(CliTest, ValuesFlagsAndPairs) {
  Parsed run = ParseArgs({"--host", "0.0.0.0", "--port=9000", "app:app", "--no-access-log", "--use-colors",
                       "--no-proxy-headers", "--loop", "uvloop", "--log-level", "debug", "--factory",
                       "--timeout-graceful-shutdown", "7", "--limit-request-body", "10000000000",
                       "--timeout-request-header", "2.5", "--root-path", "/api", "--backlog", "10"});
  ASSERT_TRUE(run.result.run) << run.result.err;
  EXPECT_EQ(run.config.host, "0.0.0.0");
  EXPECT_EQ(run.config.port, 9000);
  EXPECT_FALSE(run.config.access_log);
  EXPECT_EQ(run.config.use_colors, true);
  EXPECT_FALSE(run.config.proxy_headers);
  EXPECT_EQ(run.config.loop, "uvloop");
  EXPECT_EQ(run.config.log_level, "debug");
  EXPECT_TRUE(run.config.factory);
  EXPECT_EQ(run.config.timeout_graceful_shutdown, 7.0);
  EXPECT_EQ(run.config.limit_request_body, 10000000000);
  EXPECT_EQ(run.config.timeout_request_header, 2.5);
  EXPECT_EQ(run.config.root_path, "/api");
  EXPECT_EQ(run.config.backlog, 10);
  // The last of a pair wins.
  EXPECT_EQ(ParseArgs({"--use-colors", "--no-use-colors", "a:b"}).config.use_colors, false);
  // "--" ends the options.
  EXPECT_EQ(ParseArgs({"--", "a:b"}).config.app, "a:b");
}

TEST(CliTest, ImplementedChoiceValuesOfUnfinishedOptionsWork) {
  EXPECT_TRUE(ParseArgs({"--ws", "none", "a:b"}).result.run);
  EXPECT_TRUE(ParseArgs({"--ws", "auto", "a:b"}).result.run);
  EXPECT_TRUE(ParseArgs({"--interface", "asgi2", "a:b"}).result.run);
  EXPECT_TRUE(ParseArgs({"--workers", "1", "a:b"}).result.run);
  EXPECT_TRUE(ParseArgs({"a:b"}, {{"WEB_CONCURRENCY", "1"}}).result.run);
}

TEST(CliTest, EnvironmentDefaults) {
  Parsed run = ParseArgs({"a:b"}, {{"FORWARDED_ALLOW_IPS", "10.0.0.1,unix"}});
  EXPECT_EQ(run.config.forwarded_allow_ips, "10.0.0.1,unix");
  run = ParseArgs({"--forwarded-allow-ips", "*", "a:b"}, {{"FORWARDED_ALLOW_IPS", "10.0.0.1"}});
  EXPECT_EQ(run.config.forwarded_allow_ips, "*");
  run = ParseArgs({"a:b"}, {{"WEB_CONCURRENCY", "4"}});
  ASSERT_TRUE(run.result.run) << run.result.err;
  EXPECT_EQ(run.config.workers, 4);
  run = ParseArgs({"--workers", "2", "a:b"}, {{"WEB_CONCURRENCY", "4"}});
  EXPECT_EQ(run.config.workers, 2);
  run = ParseArgs({"a:b"}, {{"WEB_CONCURRENCY", "many"}});
  EXPECT_EQ(ErrorLine(run),
            "Error: Invalid value for '--workers': 'many' is not a valid integer. (from $WEB_CONCURRENCY)");
}

TEST(CliTest, UsageErrorsAreClickStyleAndExitTwo) {
  Parsed run = ParseArgs({"--port", "abc", "a:b"});
  EXPECT_FALSE(run.result.run);
  EXPECT_EQ(run.result.exit_code, 2);
  EXPECT_EQ(run.result.err,
            "Usage: esg [OPTIONS] APP\nTry 'esg --help' for help.\n\n"
            "Error: Invalid value for '--port': 'abc' is not a valid integer.\n");
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{}, "Error: Missing argument 'APP'."},
      {{"--port", "70000", "a:b"},
       "Error: Invalid value for '--port': 70000 is not in the range 0<=x<=65535."},
      {{"--port", "-1", "a:b"}, "Error: Invalid value for '--port': -1 is not in the range 0<=x<=65535."},
      {{"--loop", "trio", "a:b"},
       "Error: Invalid value for '--loop': 'trio' is not one of 'auto', 'asyncio', 'uvloop'."},
      {{"--log-level", "loud", "a:b"},
       "Error: Invalid value for '--log-level': 'loud' is not one of 'critical', 'error', 'warning', 'info', "
       "'debug', 'trace'."},
      {{"--timeout-request-header", "x", "a:b"},
       "Error: Invalid value for '--timeout-request-header': 'x' is not a valid float."},
      {{"--timeout-request-header", "0", "a:b"},
       "Error: Invalid value for '--timeout-request-header': 0.0 is not in the range x>0."},
      {{"--backlog", "99999999999", "a:b"},
       "Error: Invalid value for '--backlog': 99999999999 is not in the range 1<=x<=2147483647."},
      {{"--nope", "a:b"}, "Error: No such option: --nope"},
      {{"-x", "a:b"}, "Error: No such option: -x"},
      {{"a:b", "--port"}, "Error: Option '--port' requires an argument."},
      {{"--factory=yes", "a:b"}, "Error: Option '--factory' does not take a value."},
      {{"a:b", "c"}, "Error: Got unexpected extra argument (c)"},
      {{"a:b", "c", "d"}, "Error: Got unexpected extra arguments (c d)"},
      {{"example"},
       "Error: Invalid value for 'APP': Import string \"example\" must be in format "
       "\"<module>:<attribute>\"."},
      {{":app"},
       "Error: Invalid value for 'APP': Import string \":app\" must be in format \"<module>:<attribute>\"."},
  };
  for (const auto& [args, expected] : cases) {
    Parsed r = ParseArgs(args);
    EXPECT_EQ(r.result.exit_code, 2) << expected;
    EXPECT_FALSE(r.result.run) << expected;
    EXPECT_EQ(ErrorLine(r), expected);
  }
}

TEST(CliTest, HeaderOption) {
  Parsed run = ParseArgs({"--header", "X-A: 1 ", "--header", "X-B:two:parts", "a:b"});
  ASSERT_TRUE(run.result.run) << run.result.err;
  EXPECT_EQ(run.config.headers,
            (std::vector<std::pair<std::string, std::string>>{{"X-A", "1"}, {"X-B", "two:parts"}}));
  for (const std::string& bad : {std::string("NoColon"), std::string(":v"), std::string("Bad Name:v"),
                                 std::string("X:a\r\nInjected: 1"), std::string("X:a\nb"),
                                 std::string("X:a\0b", 5)}) {
    Parsed r = ParseArgs({"--header", bad, "a:b"});
    EXPECT_EQ(r.result.exit_code, 2) << bad;
    EXPECT_NE(ErrorLine(r).find("Invalid value for '--header'"), std::string::npos) << ErrorLine(r);
  }
}

TEST(CliTest, UnfinishedOptionsFailClearly) {
  const std::vector<std::vector<std::string>> cases = {
      {"--ssl-keyfile", "k"},
      {"--ssl-certfile", "c"},
      {"--ssl-keyfile-password", "p"},
      {"--ssl-version", "2"},
      {"--ssl-cert-reqs", "1"},
      {"--ssl-ca-certs", "ca"},
      {"--ssl-ciphers", "ALL"},
      {"--ws-max-size", "10"},
      {"--ws-ping-interval", "1"},
      {"--ws-ping-timeout", "1"},
      {"--ws", "websockets"},
      {"--ws", "wsproto"},
      {"--interface", "wsgi"},
      {"--log-config", "log.ini"},
      {"--limit-concurrency", "10"},
  };
  for (std::vector<std::string> args : cases) {
    std::string option = args[0];
    // Options implemented meanwhile (the table is shared by several work streams) drop out of this list.
    const OptionSpec* spec = FindOption(option);
    ASSERT_NE(spec, nullptr) << option;
    if (spec->implemented) continue;
    args.push_back("a:b");
    Parsed r = ParseArgs(args);
    EXPECT_EQ(r.result.exit_code, 2) << option;
    std::string line = ErrorLine(r);
    EXPECT_EQ(line.rfind("Error: " + option, 0), 0u) << line;
    EXPECT_NE(line.find("is not supported yet."), std::string::npos) << line;
  }
  // TLS is implemented: the --ssl-* options land in the config (files are checked later, tls_check.h).
  Parsed tls = ParseArgs({"--ssl-certfile", "c.pem", "--ssl-keyfile", "k.pem", "--ssl-cert-reqs", "2", "a:b"});
  EXPECT_TRUE(tls.result.run);
  EXPECT_EQ(tls.config.ssl_certfile, "c.pem");
  EXPECT_EQ(tls.config.ssl_keyfile, "k.pem");
  EXPECT_EQ(tls.config.ssl_cert_reqs, 2);
  if (!FindOption("--ws")->implemented) {
    EXPECT_EQ(ErrorLine(ParseArgs({"--ws", "wsproto", "a:b"})), "Error: --ws wsproto is not supported yet.");
  }
}

TEST(CliTest, SupervisionOptions) {
  Parsed run = ParseArgs({"--workers", "3", "--reload", "--reload-dir", "src", "--reload-dir", "lib",
                          "--reload-include", "*.html", "--reload-exclude", "*.tmp", "--reload-delay", "0.5",
                          "--env-file", ".env", "--limit-max-requests", "100", "--limit-max-requests-jitter",
                          "10", "--timeout-worker-healthcheck", "5", "--user", "www-data", "--group", "www-data",
                          "--venv", "/srv/venv", "a:b"});
  ASSERT_TRUE(run.result.run) << run.result.err;
  const Config& c = run.config;
  EXPECT_EQ(c.workers, 3);
  EXPECT_TRUE(c.reload);
  EXPECT_EQ(c.reload_dirs, (std::vector<std::string>{"src", "lib"}));
  EXPECT_EQ(c.reload_includes, (std::vector<std::string>{"*.html"}));
  EXPECT_EQ(c.reload_excludes, (std::vector<std::string>{"*.tmp"}));
  EXPECT_EQ(c.reload_delay, 0.5);
  EXPECT_EQ(c.env_file, ".env");
  EXPECT_EQ(c.limit_max_requests, 100);
  EXPECT_EQ(c.limit_max_requests_jitter, 10);
  EXPECT_EQ(c.timeout_worker_healthcheck, 5);
  EXPECT_EQ(c.user, "www-data");
  EXPECT_EQ(c.group, "www-data");
  EXPECT_EQ(c.venv, "/srv/venv");
  EXPECT_EQ(ParseArgs({"a:b"}).config.timeout_worker_healthcheck, 30);
  EXPECT_EQ(ErrorLine(ParseArgs({"--workers", "0", "a:b"})),
            "Error: Invalid value for '--workers': 0 is not in the range 1<=x<=2147483647.");
  EXPECT_EQ(ErrorLine(ParseArgs({"--timeout-worker-healthcheck", "0", "a:b"})),
            "Error: Invalid value for '--timeout-worker-healthcheck': 0 is not in the range "
            "1<=x<=2147483647.");
}

TEST(CliTest, RecyclingLimits) {
  Parsed run = ParseArgs({"--limit-worker-memory", "200", "--limit-worker-lifetime", "3600.5", "a:b"});
  ASSERT_TRUE(run.result.run) << run.result.err;
  EXPECT_EQ(run.config.limit_worker_memory, 200);
  EXPECT_EQ(run.config.limit_worker_lifetime, 3600.5);
  EXPECT_FALSE(ParseArgs({"a:b"}).config.limit_worker_memory.has_value());
  EXPECT_FALSE(ParseArgs({"a:b"}).config.limit_worker_lifetime.has_value());
  EXPECT_EQ(ErrorLine(ParseArgs({"--limit-worker-memory", "0", "a:b"})),
            "Error: Invalid value for '--limit-worker-memory': 0 is not in the range 1<=x<=2147483647.");
  EXPECT_EQ(ErrorLine(ParseArgs({"--limit-worker-memory", "1.5", "a:b"})),
            "Error: Invalid value for '--limit-worker-memory': '1.5' is not a valid integer.");
  EXPECT_EQ(ErrorLine(ParseArgs({"--limit-worker-lifetime", "0", "a:b"})),
            "Error: Invalid value for '--limit-worker-lifetime': 0.0 is not in the range x>0.");
  EXPECT_EQ(ErrorLine(ParseArgs({"--limit-worker-lifetime", "-5", "a:b"})),
            "Error: Invalid value for '--limit-worker-lifetime': -5.0 is not in the range x>0.");
}

TEST(CliTest, TimeoutRequestIsOffByDefaultAndTakesNonNegativeFiniteSeconds) {
  EXPECT_EQ(ParseArgs({"a:b"}).config.timeout_request, 0.0);
  EXPECT_EQ(ParseArgs({"--timeout-request", "2.5", "a:b"}).config.timeout_request, 2.5);
  EXPECT_EQ(ParseArgs({"--timeout-request", "0", "a:b"}).config.timeout_request, 0.0);
  EXPECT_EQ(ErrorLine(ParseArgs({"--timeout-request", "-1", "a:b"})),
            "Error: Invalid value for '--timeout-request': -1.0 is not in the range x>=0.");
  for (const char* bad : {"abc", "inf", "nan", "1e999", ""}) {
    Parsed run = ParseArgs({"--timeout-request", bad, "a:b"});
    EXPECT_EQ(run.result.exit_code, 2) << bad;
    EXPECT_EQ(ErrorLine(run), std::string("Error: Invalid value for '--timeout-request': '") + bad +
                                  "' is not a valid float.")
        << bad;
  }
}

TEST(CliTest, Http2AndItsStreamLimit) {
  Parsed off = ParseArgs({"a:b"});
  EXPECT_FALSE(off.config.http2);
  EXPECT_EQ(off.config.http2_max_concurrent_streams, 100);
  Parsed on = ParseArgs({"--http2", "--http2-max-concurrent-streams", "250", "a:b"});
  ASSERT_TRUE(on.result.run) << on.result.err;
  EXPECT_TRUE(on.config.http2);
  EXPECT_EQ(on.config.http2_max_concurrent_streams, 250);
  EXPECT_EQ(ParseArgs({"--http2-max-concurrent-streams", "2147483647", "a:b"}).config.http2_max_concurrent_streams,
            2147483647);
  for (const char* bad : {"0", "-1", "2147483648", "99999999999"}) {
    Parsed run = ParseArgs({"--http2-max-concurrent-streams", bad, "a:b"});
    EXPECT_EQ(run.result.exit_code, 2) << bad;
    EXPECT_EQ(ErrorLine(run), std::string("Error: Invalid value for '--http2-max-concurrent-streams': ") + bad +
                                  " is not in the range 1<=x<=2147483647.");
  }
  EXPECT_EQ(ErrorLine(ParseArgs({"--http2-max-concurrent-streams", "many", "a:b"})),
            "Error: Invalid value for '--http2-max-concurrent-streams': 'many' is not a valid integer.");
}

TEST(OptionTableTest, EveryRowCanBeApplied) {
  for (const OptionSpec& spec : Options()) {
    if (spec.type == OptionType::kAction || spec.name == "--header") continue;
    EXPECT_TRUE(spec.field.has_value()) << spec.name;
    EXPECT_EQ(spec.name.rfind("--", 0), 0u) << spec.name;
    EXPECT_EQ(FindOption(spec.name), &spec);
    if (spec.type == OptionType::kBoolPair) {
      EXPECT_EQ(FindOption(spec.off_name), &spec);
    }
  }
}

TEST(PyReprTest, QuotesLikePython) {
  EXPECT_EQ(PyRepr("abc"), "'abc'");
  EXPECT_EQ(PyRepr("it's"), "\"it's\"");
  EXPECT_EQ(PyRepr("a\r\n"), "'a\\r\\n'");
  EXPECT_EQ(PyRepr(std::string("\x01", 1)), "'\\x01'");
}

}  // namespace
}  // namespace esg::cli

namespace esg::cli {
namespace {

TEST(CliTest, UdsModeIsOctal) {
  for (const auto& [text, mode] : std::vector<std::pair<std::string, int>>{{"660", 0660}, {"0600", 0600}, {"0o640", 0640}, {"7", 07}}) {
    Parsed run = ParseArgs({"--uds", "/tmp/x.sock", "--uds-mode", text, "m:app"});
    ASSERT_TRUE(run.result.run) << text << run.result.err;
    EXPECT_EQ(run.config.uds_mode, mode) << text;
  }
  for (const char* bad : {"999", "abc", "4755", "", "-660", "0o", "00660"}) {
    Parsed run = ParseArgs({"--uds", "/tmp/x.sock", "--uds-mode", bad, "m:app"});
    EXPECT_EQ(run.result.exit_code, 2) << bad;
    EXPECT_EQ(ErrorLine(run).rfind("Error: Invalid value for '--uds-mode': ", 0), 0u) << ErrorLine(run);
  }
}

TEST(CliTest, UdsAccessOptionsNeedUds) {
  Parsed run = ParseArgs({"--uds-group", "www-data", "m:app"});
  EXPECT_EQ(run.result.exit_code, 2);
  EXPECT_EQ(ErrorLine(run), "Error: --uds-group applies to the socket file of --uds; pass --uds PATH too.");
}

TEST(CliTest, AccessLogFormatIsCompiledAtParseTime) {
  Parsed run = ParseArgs({"--access-log-format", "%(h)s \"%(r)s\" %(s)s %({x-request-id}i)s %(D)s", "m:app"});
  ASSERT_TRUE(run.result.run) << run.result.err;
  EXPECT_EQ(run.config.access_log_format, "%(h)s \"%(r)s\" %(s)s %({x-request-id}i)s %(D)s");
  EXPECT_TRUE(ParseArgs({"--access-log-format", "json", "m:app"}).result.run);
  for (const char* bad : {"%(x)s", "%(h)d", "%(h", "100%", "%({}o)s"}) {
    Parsed bad_run = ParseArgs({"--access-log-format", bad, "m:app"});
    EXPECT_EQ(bad_run.result.exit_code, 2) << bad;
    EXPECT_EQ(ErrorLine(bad_run).rfind("Error: Invalid value for '--access-log-format': ", 0), 0u) << ErrorLine(bad_run);
  }
}

TEST(CliTest, ForwardedAllowIpsTakesUnixIdentities) {
  Parsed run = ParseArgs({"--forwarded-allow-ips", "127.0.0.1,unix:uid=33,unix:gid=33,unix:root,unix:group=0", "m:app"});
  EXPECT_TRUE(run.result.run) << run.result.err;
  for (const char* bad : {"unix:", "unix:uid=", "unix:uid=x", "unix:gid=-1", "unix:no-such-user-esg", "unix:shell=sh"}) {
    Parsed bad_run = ParseArgs({"--forwarded-allow-ips", bad, "m:app"});
    EXPECT_EQ(bad_run.result.exit_code, 2) << bad;
    EXPECT_EQ(ErrorLine(bad_run).rfind("Error: Invalid value for '--forwarded-allow-ips': ", 0), 0u) << ErrorLine(bad_run);
  }
}

// The option table names a Config member per option; --help shows that member's initial value.
TEST(OptionTableTest, EveryValueOptionStoresIntoANamedConfigField) {
  for (const OptionSpec& spec : Options()) {
    if (spec.type == OptionType::kAction) {
      EXPECT_FALSE(spec.field.has_value()) << spec.name;
      continue;
    }
    ASSERT_TRUE(spec.field.has_value()) << spec.name;
    const ConfigField* field = FieldOf(*spec.field);
    ASSERT_NE(field, nullptr) << spec.name;
    std::string flag = "--" + std::string(field->name);
    for (char& c : flag) c = c == '_' ? '-' : c;
    // The flag is the field's name, but for the singular list flags, --header and --no-control.
    if (spec.name != flag && std::string(spec.name) + "s" != flag && spec.name != "--header" && spec.name != "--no-control") {
      ADD_FAILURE() << spec.name << " stores into " << field->name;
    }
  }
}

TEST(OptionTableTest, DefaultTextComesFromConfig) {
  EXPECT_EQ(DefaultText(*FindOption("--limit-request-line")), std::to_string(Config{}.limit_request_line));
  EXPECT_EQ(DefaultText(*FindOption("--reload-delay")), "0.25");
  EXPECT_EQ(DefaultText(*FindOption("--ws-ping-interval")), "20.0");
  EXPECT_EQ(DefaultText(*FindOption("--factory")), "False");
  EXPECT_EQ(DefaultText(*FindOption("--access-log")), "enabled");
  // Written as uvicorn 0.55 writes it: --ws-per-message-deflate BOOLEAN  [default: True].
  EXPECT_EQ(DefaultText(*FindOption("--ws-per-message-deflate")), "True");
  EXPECT_EQ(DefaultText(*FindOption("--log-level")), "info");
  EXPECT_EQ(PyFloatRepr(0.1), "0.1");
  EXPECT_EQ(PyFloatRepr(1e16), "1e+16");
  EXPECT_EQ(PyFloatRepr(-20), "-20.0");
  EXPECT_EQ(PyFloatRepr(0.0001), "0.0001");
}

TEST(OptionTableTest, StoreFollowsTheMembersType) {
  Config config;
  Value value;
  value.integer = 30;
  Store(*FindOption("--timeout-graceful-shutdown"), value, &config);  // INTEGER option, optional<double> member
  EXPECT_EQ(config.timeout_graceful_shutdown, 30.0);
  value.flag = true;
  Store(*FindOption("--no-control"), value, &config);
  EXPECT_FALSE(config.control);
  value.text = "src";
  Store(*FindOption("--reload-dir"), value, &config);
  Store(*FindOption("--reload-dir"), value, &config);
  EXPECT_EQ(config.reload_dirs, (std::vector<std::string>{"src", "src"}));
}

}  // namespace
}  // namespace esg::cli
