// The few calls sealift makes to Harbor's own API v2.0 (wire-formats §13): whether a project
// exists, creating it, and the pull-only robot accounts for the cluster's pull secret (create,
// list, delete). Everything
// else sealift does with Harbor is plain OCI distribution (registry/). Basic auth on every call
// and never a cookie: Harbor's CSRF check refuses a POST that carries its `sid` login cookie.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "registry/credentials.h"
#include "registry/http.h"
#include "registry/retry.h"

namespace sealift::harbor {

struct RobotAccount {
  int64_t id = 0;
  std::string name;    // "robot$<project>+<name>": the user name for registry logins
  std::string secret;  // shown by Harbor only once; never logged
};

// A robot as Harbor lists it (the Robot model), never with a secret.
struct RobotInfo {
  int64_t id = 0;
  std::string name;           // "robot$<project>+<name>"
  std::string description;
  int64_t duration = 0;       // days; -1 = never expires
  int64_t expires_at = 0;     // Unix seconds; -1 = never
  std::string creation_time;  // RFC 3339, as Harbor writes it
};

// The lifetime Harbor's UI suggests for a new robot, and sealift's default.
inline constexpr int kDefaultRobotDays = 365;

// Harbor's project name rule: ^[a-z0-9]+(?:[._-][a-z0-9]+)*$, at most 255 characters.
bool valid_project_name(const std::string& name);

// Harbor's answer to creating a robot account (RobotCreated: id, name, secret). Throws
// Error(Remote) naming `what` when the name or the secret is missing.
RobotAccount parse_robot_created(std::string_view body, const std::string& what);
// One page of Harbor's robot list (an array of Robot). Throws Error(Remote) naming `what` on
// anything else.
std::vector<RobotInfo> parse_robot_list(std::string_view body, const std::string& what);

class HarborApi {
 public:
  // `host` as the user wrote it ("harbor.example.com", "127.0.0.1:8443"). Throws Error(Usage)
  // for anonymous credentials: Harbor's API answers nobody anonymously.
  HarborApi(std::string host, registry::HttpOptions http, registry::Credentials credentials,
            registry::RetryPolicy retry = {});

  bool project_exists(const std::string& project);
  // Creates the project, private unless asked otherwise. False when it existed already (409).
  bool create_project(const std::string& project, bool is_public = false);
  // Creates the project when `create` is set; otherwise fails with a clear message when missing.
  void ensure_project(const std::string& project, bool create);
  // A project robot that may only pull from `project`, expiring after `duration_days` (-1: never).
  // Fails when the name is taken.
  RobotAccount create_pull_robot(const std::string& project, const std::string& name,
                                 const std::string& description = "sealift: image pulls for the cluster",
                                 int duration_days = kDefaultRobotDays);
  // The same, but nullopt when a robot of that name exists already (Harbor answers 409).
  std::optional<RobotAccount> try_create_pull_robot(const std::string& project, const std::string& name,
                                                    const std::string& description = "sealift: image pulls for the cluster",
                                                    int duration_days = kDefaultRobotDays);
  // Every project-level robot of `project` (GET /robots?q=Level=project,ProjectID=<id>, all pages).
  std::vector<RobotInfo> list_project_robots(const std::string& project);
  // Deletes a robot by id; one already gone (404) is not an error.
  void delete_robot(const RobotInfo& robot);

 private:
  registry::HttpResponse call(const std::string& what, registry::HttpRequest request);
  [[noreturn]] void fail(const std::string& what, const registry::HttpResponse& r) const;

  std::string host_;
  std::string base_;
  registry::HttpClient http_;
  registry::Credentials credentials_;
  registry::RetryPolicy retry_;
};

}  // namespace sealift::harbor
