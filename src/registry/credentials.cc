#include "registry/credentials.h"

#include <cctype>
#include <cstdlib>
#include <iostream>
#include <iterator>
#include <system_error>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "util/encoding.h"
#include "util/error.h"
#include "util/fs.h"

namespace sealift::registry {

namespace fs = std::filesystem;

namespace {

// "https://index.docker.io/v1/" -> "index.docker.io"; docker's own key normalisation.
std::string config_key_host(std::string_view key) {
  size_t scheme = key.find("://");
  if (scheme != std::string_view::npos) key.remove_prefix(scheme + 3);
  key = key.substr(0, key.find('/'));
  return util::ascii_lower(key);
}

bool is_docker_hub(std::string_view host) {
  return host == "docker.io" || host == "index.docker.io" || host == "registry-1.docker.io";
}

bool key_matches(std::string_view key, std::string_view registry) {
  std::string host = config_key_host(key);
  std::string want = util::ascii_lower(registry);
  if (host == want) return true;
  return is_docker_hub(host) && is_docker_hub(want);
}

std::string drop_newline(std::string s) {
  if (!s.empty() && s.back() == '\n') s.pop_back();
  if (!s.empty() && s.back() == '\r') s.pop_back();
  return s;
}

}  // namespace

Environment process_environment() {
  return [](const char* name) -> std::optional<std::string> {
    const char* v = std::getenv(name);
    if (!v) return std::nullopt;
    return std::string(v);
  };
}

std::string read_password_from_stdin() {
  std::string s((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
  return drop_newline(std::move(s));
}

fs::path docker_config_path(const Environment& env) {
  if (auto dir = env("DOCKER_CONFIG"); dir && !dir->empty()) return fs::path(*dir) / "config.json";
  if (auto home = env("HOME"); home && !home->empty()) return fs::path(*home) / ".docker" / "config.json";
  return {};
}

Credentials read_docker_config(const fs::path& file, std::string_view registry) {
  std::error_code ec;
  if (file.empty() || !fs::exists(file, ec)) return {};
  std::string text = util::read_file(file);
  nlohmann::json doc = nlohmann::json::parse(text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object())
    throw Error(ErrorKind::Input, fmt::format("{}: not a valid JSON object", file.string()),
                "fix or move the docker config file, or pass --username and --password-stdin");
  auto fail = [&](const std::string& key, const std::string& why) -> Error {
    return Error(ErrorKind::Input, fmt::format("{}: auths[\"{}\"] {}", file.string(), key, why),
                 "run docker login again, or pass --username and --password-stdin");
  };

  if (doc.contains("auths")) {
    const auto& auths = doc["auths"];
    if (!auths.is_object()) throw Error(ErrorKind::Input, fmt::format("{}: \"auths\" is not an object", file.string()));
    for (const auto& [key, entry] : auths.items()) {
      if (!key_matches(key, registry)) continue;
      if (!entry.is_object()) throw fail(key, "is not an object");
      Credentials c;
      c.origin = file.string();
      if (entry.contains("auth") && !(entry["auth"].is_string() && entry["auth"].get<std::string>().empty())) {
        if (!entry["auth"].is_string()) throw fail(key, "\"auth\" is not a string");
        std::string decoded;
        try {
          decoded = util::base64_decode(entry["auth"].get<std::string>());
        } catch (const Error&) {
          throw fail(key, "\"auth\" is not valid base64");
        }
        size_t colon = decoded.find(':');
        if (colon == std::string::npos || colon == 0) throw fail(key, "\"auth\" does not decode to user:password");
        c.username = decoded.substr(0, colon);
        c.password = decoded.substr(colon + 1);
        return c;
      }
      if (entry.contains("username") || entry.contains("password")) {
        if (!entry.value("username", nlohmann::json()).is_string() || !entry.value("password", nlohmann::json()).is_string())
          throw fail(key, "needs both \"username\" and \"password\" as strings");
        c.username = entry["username"].get<std::string>();
        c.password = entry["password"].get<std::string>();
        return c;
      }
      if (entry.contains("identitytoken"))
        throw Error(ErrorKind::Usage,
                    fmt::format("{}: the entry for {} holds an identity token, which sealift does not use",
                                file.string(), key),
                    "pass --username and --password-stdin");
      // An empty entry: docker keeps the secret in a credential store.
      if (doc.contains("credsStore"))
        throw Error(ErrorKind::Usage,
                    fmt::format("{}: the credentials for {} are kept in the credential store \"{}\", which sealift "
                                "does not run",
                                file.string(), key, doc["credsStore"].is_string() ? doc["credsStore"].get<std::string>() : "?"),
                    "pass --username and --password-stdin");
    }
  }
  if (doc.contains("credHelpers") && doc["credHelpers"].is_object()) {
    for (const auto& [key, helper] : doc["credHelpers"].items()) {
      if (key_matches(key, registry))
        throw Error(ErrorKind::Usage,
                    fmt::format("{}: the credentials for {} come from the credential helper \"{}\", which sealift "
                                "does not run",
                                file.string(), key, helper.is_string() ? helper.get<std::string>() : "?"),
                    "pass --username and --password-stdin");
    }
  }
  return {};
}

Credentials resolve_credentials(std::string_view registry, const CredentialFlags& flags,
                                const std::function<std::string()>& read_stdin, const Environment& env) {
  if (flags.password && flags.password_stdin)
    throw Error(ErrorKind::Usage, "--password and --password-stdin are mutually exclusive");
  if ((flags.password || flags.password_stdin) && flags.username.empty())
    throw Error(ErrorKind::Usage, "a password was given without --username");
  if (!flags.username.empty()) {
    Credentials c;
    c.username = flags.username;
    if (flags.password) {
      c.password = *flags.password;
      c.origin = "--username/--password";
    } else if (flags.password_stdin) {
      c.password = read_stdin();
      c.origin = "--username/--password-stdin";
      if (c.password.empty()) throw Error(ErrorKind::Usage, "--password-stdin: nothing was read from standard input");
    } else {
      throw Error(ErrorKind::Usage, "--username needs a password", "pipe it in with --password-stdin");
    }
    return c;
  }
  auto user = env(kUserEnv);
  auto password = env(kPasswordEnv);
  if (user && !user->empty()) {
    if (!password || password->empty())
      throw Error(ErrorKind::Usage, fmt::format("{} is set but {} is not", kUserEnv, kPasswordEnv));
    return Credentials{*user, *password, kUserEnv};
  }
  if (password && !password->empty())
    throw Error(ErrorKind::Usage, fmt::format("{} is set but {} is not", kPasswordEnv, kUserEnv));
  return read_docker_config(docker_config_path(env), registry);
}

}  // namespace sealift::registry
