// Who we are to a registry. Credentials come, in this order, from the --username/--password flags,
// from --password-stdin (with --username), from SEALIFT_REGISTRY_USER / SEALIFT_REGISTRY_PASSWORD,
// or from the user's docker config ($DOCKER_CONFIG/config.json, else ~/.docker/config.json,
// `auths.<host>.auth` = base64("user:password")). Nothing found means anonymous.
// A password never appears in a message, a log line or an argv echo; `origin` says where the
// credentials came from so errors can point there instead.
#pragma once

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace sealift::registry {

struct Credentials {
  std::string username;
  std::string password;
  std::string origin;  // "--username", "SEALIFT_REGISTRY_USER", "/home/u/.docker/config.json"

  bool anonymous() const { return username.empty() && password.empty(); }
};

struct CredentialFlags {
  std::string username;
  std::optional<std::string> password;  // --password (discouraged: visible in the process list)
  bool password_stdin = false;          // --password-stdin
};

inline constexpr const char* kUserEnv = "SEALIFT_REGISTRY_USER";
inline constexpr const char* kPasswordEnv = "SEALIFT_REGISTRY_PASSWORD";

// Reads an environment variable; tests pass their own.
using Environment = std::function<std::optional<std::string>(const char* name)>;
Environment process_environment();

// Resolves credentials for `registry` ("harbor.example.com", "docker.io", "127.0.0.1:5000").
// `read_stdin` is called only for --password-stdin. Throws Error(Usage) for inconsistent flags
// or variables and Error(Input) for a malformed docker config.
Credentials resolve_credentials(std::string_view registry, const CredentialFlags& flags,
                                const std::function<std::string()>& read_stdin, const Environment& env);

// The docker config file that applies: $DOCKER_CONFIG/config.json or $HOME/.docker/config.json.
std::filesystem::path docker_config_path(const Environment& env);

// The credentials stored for `registry` in a docker config file; anonymous when the file or the
// entry does not exist. Keys match with or without scheme and path ("https://h/v1/"), and
// docker.io matches Docker Hub's historical key. Throws Error(Input) on malformed content and
// Error(Usage) when the entry lives in a credential helper, which sealift does not run.
Credentials read_docker_config(const std::filesystem::path& file, std::string_view registry);

// Reads all of stdin as a password, dropping one trailing newline.
std::string read_password_from_stdin();

}  // namespace sealift::registry
