// esg::ToJson: the JSON the master hands to workers in $ESG_WORKER_CONFIG (keys, nulls, listeners).
#include "server/common/config.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>

namespace esg {
namespace {

TEST(ConfigJsonTest, HasEveryConfigKeyWithPythonNames) {
  Config config;
  config.app = "example:app";
  nlohmann::json doc = nlohmann::json::parse(ToJson(config, {}, 5));
  std::set<std::string> keys;
  for (const auto& item : doc["config"].items()) keys.insert(item.key());
  const std::set<std::string> expected = {
      "app", "app_dir", "factory", "interface", "host", "port", "uds", "fd", "backlog", "workers", "reload",
      "reload_dirs", "reload_includes", "reload_excludes", "reload_delay", "loop", "wsgi_threads", "cpu_scheduling", "gc_freeze", "coalesce_streams", "ws", "ws_max_size",
      "ws_ping_interval", "ws_ping_timeout", "lifespan", "env_file", "log_config", "log_level", "access_log",
      "access_log_format", "use_colors", "proxy_headers", "forwarded_allow_ips", "server_header", "date_header", "root_path",
      "headers", "limit_concurrency", "limit_max_requests", "timeout_keep_alive", "timeout_graceful_shutdown",
      "limit_request_line", "limit_request_fields", "limit_request_field_size", "limit_request_head_size",
      "limit_request_body",
      "timeout_request_header", "ssl_keyfile", "ssl_certfile", "ssl_keyfile_password", "ssl_version",
      "ssl_cert_reqs", "ssl_ca_certs", "ssl_ciphers", "python", "ws_per_message_deflate",
      "timeout_worker_healthcheck", "limit_max_requests_jitter", "limit_worker_memory", "limit_worker_lifetime",
      "metrics_bind", "user", "group", "venv",
      "timeout_request_body", "timeout_send", "ws_max_queue", "h11_max_incomplete_event_size",
      "reset_contextvars", "timeout_request", "http2", "http2_max_concurrent_streams"};
  EXPECT_EQ(keys, expected);
  EXPECT_EQ(doc["control_fd"], 5);
  EXPECT_TRUE(doc["listeners"].is_array());
  EXPECT_EQ(doc["config"]["app"], "example:app");
  EXPECT_EQ(doc["config"]["port"], 8000);
  EXPECT_EQ(doc["config"]["reload_delay"], 0.25);
  EXPECT_EQ(doc["config"]["limit_request_body"], 0);
  EXPECT_EQ(doc["config"]["limit_request_head_size"], 32768);
  EXPECT_EQ(doc["config"]["timeout_request_header"], 30.0);
  EXPECT_EQ(doc["config"]["http2"], false);
  EXPECT_EQ(doc["config"]["http2_max_concurrent_streams"], 100);
}

TEST(ConfigJsonTest, UnsetOptionalsAreNullAndSetOnesAreValues) {
  Config config;
  nlohmann::json doc = nlohmann::json::parse(ToJson(config, {}, 4));
  for (const char* key : {"workers", "use_colors", "forwarded_allow_ips", "limit_concurrency",
                          "limit_max_requests", "timeout_graceful_shutdown"}) {
    EXPECT_TRUE(doc["config"][key].is_null()) << key;
  }
  config.workers = 1;
  config.use_colors = false;
  config.forwarded_allow_ips = "*";
  config.timeout_graceful_shutdown = 3;
  doc = nlohmann::json::parse(ToJson(config, {}, 4));
  EXPECT_EQ(doc["config"]["workers"], 1);
  EXPECT_EQ(doc["config"]["use_colors"], false);
  EXPECT_EQ(doc["config"]["forwarded_allow_ips"], "*");
  EXPECT_EQ(doc["config"]["timeout_graceful_shutdown"], 3.0);
}

TEST(ConfigJsonTest, HeadersArePairs) {
  Config config;
  config.headers = {{"X-A", "1"}, {"X-B", "two words"}};
  nlohmann::json doc = nlohmann::json::parse(ToJson(config, {}, 4));
  ASSERT_EQ(doc["config"]["headers"].size(), 2u);
  EXPECT_EQ(doc["config"]["headers"][0], nlohmann::json({"X-A", "1"}));
  EXPECT_EQ(doc["config"]["headers"][1], nlohmann::json({"X-B", "two words"}));
}

TEST(ConfigJsonTest, ListenersCarryFdKindAddress) {
  ListenerSpec tcp{3, "tcp", "127.0.0.1", 8000, ""};
  ListenerSpec unix_socket{4, "unix", "", 0, "/tmp/esg.sock"};
  nlohmann::json doc = nlohmann::json::parse(ToJson(Config{}, {tcp, unix_socket}, 5));
  ASSERT_EQ(doc["listeners"].size(), 2u);
  EXPECT_EQ(doc["listeners"][0],
            nlohmann::json(
                {{"fd", 3}, {"kind", "tcp"}, {"host", "127.0.0.1"}, {"port", 8000}, {"path", ""}}));
  EXPECT_EQ(doc["listeners"][1]["kind"], "unix");
  EXPECT_EQ(doc["listeners"][1]["path"], "/tmp/esg.sock");
}

TEST(ConfigJsonTest, InvalidUtf8DoesNotThrow) {
  Config config;
  config.root_path = "/caf\xe9";
  std::string text;
  EXPECT_NO_THROW(text = ToJson(config, {}, 4));
  EXPECT_FALSE(nlohmann::json::parse(text)["config"]["root_path"].get<std::string>().empty());
}

TEST(ConfigFieldsTest, NamesAreUniqueAndEveryWorkerFieldIsInTheJson) {
  std::set<std::string> names;
  for (const ConfigField& field : ConfigFields()) {
    EXPECT_TRUE(names.insert(std::string(field.name)).second) << field.name;
    EXPECT_EQ(FindField(field.name), &field);
    EXPECT_EQ(FieldOf(field.member), &field) << field.name;
  }
  nlohmann::json doc = nlohmann::json::parse(ToJson(Config{}, {}, 4));
  for (const ConfigField& field : ConfigFields()) {
    EXPECT_EQ(doc["config"].contains(std::string(field.name)), field.worker) << field.name;
  }
  EXPECT_EQ(FindField("prot"), nullptr);
}

TEST(FromJsonTest, ReadsBackWhatToJsonWrote) {
  Config config;
  config.app = "example:app";
  config.port = 5000;
  config.workers = 4;
  config.use_colors = false;
  config.forwarded_allow_ips = "10.0.0.1,unix";
  config.timeout_graceful_shutdown = 2.5;
  config.limit_request_body = int64_t{1} << 40;
  config.reload_dirs = {"src", "lib"};
  config.headers = {{"X-A", "1"}};
  std::string text = nlohmann::json::parse(ToJson(config, {}, 4))["config"].dump();
  Config back;
  std::string error;
  ASSERT_TRUE(FromJson(text, &back, &error)) << error;
  EXPECT_EQ(ToJson(back, {}, 4), ToJson(config, {}, 4));
}

TEST(FromJsonTest, NullKeepsTheDefaultAndIntegralFloatsAreIntegers) {
  Config config;
  std::string error;
  ASSERT_TRUE(FromJson(R"({"port": null, "workers": null, "timeout_keep_alive": 7.0, "reload_delay": 1})", &config,
                       &error))
      << error;
  EXPECT_EQ(config.port, 8000);
  EXPECT_FALSE(config.workers.has_value());
  EXPECT_EQ(config.timeout_keep_alive, 7);
  EXPECT_EQ(config.reload_delay, 1.0);
}

TEST(FromJsonTest, UnknownKeyOrWrongTypeFailsNamingTheKey) {
  Config config;
  std::string error;
  EXPECT_FALSE(FromJson(R"({"prot": 5000})", &config, &error));
  EXPECT_EQ(error, "unknown setting 'prot'");
  EXPECT_FALSE(FromJson(R"({"port": "80"})", &config, &error));
  EXPECT_EQ(error, "setting 'port' must be an integer, got \"80\"");
  EXPECT_FALSE(FromJson(R"({"timeout_keep_alive": 0.5})", &config, &error));
  EXPECT_NE(error.find("'timeout_keep_alive' must be an integer"), std::string::npos) << error;
  EXPECT_FALSE(FromJson(R"({"access_log": 1})", &config, &error));
  EXPECT_EQ(error, "setting 'access_log' must be true or false, got 1");
  EXPECT_FALSE(FromJson(R"({"headers": [["X-A"]]})", &config, &error));
  EXPECT_NE(error.find("'headers' must be a list of [name, value] pairs"), std::string::npos) << error;
  EXPECT_FALSE(FromJson(R"({"port": 99999999999})", &config, &error));
  EXPECT_FALSE(FromJson("[1, 2]", &config, &error));
  EXPECT_EQ(error, "the settings are not a JSON object");
  EXPECT_FALSE(FromJson("{", &config, &error));
}

TEST(ListenerSpecTest, Url) {
  EXPECT_EQ((ListenerSpec{3, "tcp", "127.0.0.1", 8000, ""}).Url(false), "http://127.0.0.1:8000");
  EXPECT_EQ((ListenerSpec{3, "tcp", "::1", 8443, ""}).Url(true), "https://[::1]:8443");
  EXPECT_EQ((ListenerSpec{3, "unix", "", 0, "/tmp/x.sock"}).Url(false), "unix:/tmp/x.sock");
}

}  // namespace
}  // namespace esg
