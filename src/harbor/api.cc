#include "harbor/api.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "io/stream.h"
#include "registry/remote_error.h"
#include "registry/url.h"
#include "util/encoding.h"
#include "util/error.h"

namespace sealift::harbor {

using registry::HttpRequest;
using registry::HttpResponse;

namespace {

class StringBody : public io::Source {
 public:
  explicit StringBody(const std::string& s) : src_(s) {}
  size_t read(std::span<std::byte> buf) override { return src_.read(buf); }

 private:
  io::MemorySource src_;
};

HttpRequest json_request(const std::string& method, const std::string& url, const std::string& body) {
  HttpRequest req;
  req.method = method;
  req.url = url;
  req.headers = {"Accept: application/json"};
  if (!body.empty()) {
    req.headers.push_back("Content-Type: application/json");
    req.body = [&body] { return std::make_unique<StringBody>(body); };
    req.body_size = body.size();
  }
  return req;
}

void check_project_name(const std::string& project) {
  if (!valid_project_name(project))
    throw Error(ErrorKind::Input, fmt::format("\"{}\" is not a valid Harbor project name", project),
                "use lowercase letters and digits, separated by single '.', '_' or '-'");
}

}  // namespace

bool valid_project_name(const std::string& name) {
  if (name.empty() || name.size() > 255) return false;
  bool after_separator = true;  // a name starts, and each separator is followed, by [a-z0-9]
  for (char c : name) {
    bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    bool separator = c == '.' || c == '_' || c == '-';
    if (!alnum && !(separator && !after_separator)) return false;
    after_separator = separator;
  }
  return !after_separator;
}

HarborApi::HarborApi(std::string host, registry::HttpOptions http, registry::Credentials credentials,
                     registry::RetryPolicy retry)
    : host_(std::move(host)),
      base_((http.plain_http ? "http://" : "https://") + host_ + "/api/v2.0"),
      http_(std::move(http)),
      credentials_(std::move(credentials)),
      retry_(retry) {
  registry::Url::parse(base_);
  if (credentials_.anonymous())
    throw Error(ErrorKind::Usage, fmt::format("Harbor's API on {} needs a user name and password", host_),
                "pass --username with --password-stdin, or set SEALIFT_REGISTRY_USER/SEALIFT_REGISTRY_PASSWORD");
}

void HarborApi::fail(const std::string& what, const HttpResponse& r) const {
  if (r.failed()) throw Error(ErrorKind::Network, fmt::format("{}: {}, while trying to {}", host_, r.error, what));
  std::string said = registry::describe_status(r.status, r.body);
  if (r.status == 401)
    throw Error(ErrorKind::Remote,
                fmt::format("login to Harbor {} failed for user \"{}\" (credentials from {}): {}", host_,
                            credentials_.username, credentials_.origin, said),
                "check the user name and password");
  if (r.status == 403)
    throw Error(ErrorKind::Remote, fmt::format("{}: {} (user \"{}\" on {})", what, said, credentials_.username, host_),
                "the user needs the Harbor system administrator role for this");
  throw Error(ErrorKind::Remote, fmt::format("{}: {} (on {})", what, said, host_));
}

HttpResponse HarborApi::call(const std::string& what, HttpRequest request) {
  request.authorization = "Basic " + util::base64_encode(credentials_.username + ":" + credentials_.password);
  HttpResponse r = registry::send_with_retries(http_, request, retry_);
  if (r.failed() || r.status == 401 || r.status == 403) fail(what, r);
  return r;
}

bool HarborApi::project_exists(const std::string& project) {
  check_project_name(project);
  std::string what = fmt::format("look up project \"{}\"", project);
  HttpRequest req = json_request("HEAD", registry::set_query_param(base_ + "/projects", "project_name", project), "");
  HttpResponse r = call(what, req);
  if (r.status == 200) return true;
  if (registry::api_not_found(r)) return false;
  fail(what, r);
}

bool HarborApi::create_project(const std::string& project, bool is_public) {
  check_project_name(project);
  std::string what = fmt::format("create project \"{}\"", project);
  // ProjectReq; metadata values are strings in Harbor's API.
  nlohmann::ordered_json body = {{"project_name", project},
                                 {"metadata", {{"public", is_public ? "true" : "false"}}},
                                 {"storage_limit", -1}};
  std::string payload = body.dump();
  HttpResponse r = call(what, json_request("POST", base_ + "/projects", payload));
  if (r.status == 201) return true;
  if (registry::api_conflict(r)) return false;
  fail(what, r);
}

void HarborApi::ensure_project(const std::string& project, bool create) {
  if (project_exists(project)) return;
  if (!create)
    throw Error(ErrorKind::Remote, fmt::format("project \"{}\" does not exist on {}", project, host_),
                "create it in Harbor, or ask sealift-install to create it");
  create_project(project);
}

RobotAccount HarborApi::create_pull_robot(const std::string& project, const std::string& name,
                                          const std::string& description, int duration_days) {
  std::optional<RobotAccount> robot = try_create_pull_robot(project, name, description, duration_days);
  if (!robot)
    throw Error(ErrorKind::Remote,
                fmt::format("create robot account \"{}\" in project \"{}\": a robot account robot${}+{} already exists on {}",
                            name, project, project, name, host_),
                "choose another robot name, or delete the old robot account in Harbor");
  return *robot;
}

std::optional<RobotAccount> HarborApi::try_create_pull_robot(const std::string& project, const std::string& name,
                                                             const std::string& description, int duration_days) {
  check_project_name(project);
  if (name.empty() || name.find_first_of("$+/ ") != std::string::npos)
    throw Error(ErrorKind::Input, fmt::format("\"{}\" is not a usable robot account name", name));
  if (duration_days == 0 || duration_days < -1)
    throw Error(ErrorKind::Usage, fmt::format("a robot's lifetime of {} days is not a positive number of days",
                                              duration_days));
  std::string what = fmt::format("create robot account \"{}\" in project \"{}\"", name, project);
  // RobotCreate: a project robot that may pull from this one project and nothing else.
  nlohmann::ordered_json body = {
      {"name", name},
      {"description", description},
      {"level", "project"},
      {"duration", duration_days},
      {"disable", false},
      {"permissions",
       {{{"kind", "project"}, {"namespace", project}, {"access", {{{"resource", "repository"}, {"action", "pull"}}}}}}}};
  std::string payload = body.dump();
  HttpResponse r = call(what, json_request("POST", base_ + "/robots", payload));
  if (registry::api_conflict(r)) return std::nullopt;
  if (r.status != 201) fail(what, r);
  return parse_robot_created(r.body, what);
}

std::vector<RobotInfo> HarborApi::list_project_robots(const std::string& project) {
  check_project_name(project);
  // Harbor filters robots by project id, not name.
  std::string what = fmt::format("look up project \"{}\"", project);
  HttpRequest get = json_request("GET", base_ + "/projects/" + project, "");
  get.headers.push_back("X-Is-Resource-Name: true");
  HttpResponse r = call(what, get);
  if (registry::api_not_found(r))
    throw Error(ErrorKind::Remote, fmt::format("project \"{}\" does not exist on {}", project, host_));
  if (r.status != 200) fail(what, r);
  auto doc = nlohmann::json::parse(r.body, nullptr, false);
  if (!doc.is_object() || !doc.contains("project_id") || !doc["project_id"].is_number_integer())
    throw Error(ErrorKind::Remote, fmt::format("{}: Harbor answered without the project's id", what));
  const int64_t project_id = doc["project_id"].get<int64_t>();

  what = fmt::format("list the robot accounts of project \"{}\"", project);
  std::vector<RobotInfo> all;
  constexpr int kPageSize = 100;
  for (int page = 1;; ++page) {
    std::string url = registry::set_query_param(base_ + "/robots", "q", fmt::format("Level=project,ProjectID={}", project_id));
    url = registry::set_query_param(url, "page", std::to_string(page));
    url = registry::set_query_param(url, "page_size", std::to_string(kPageSize));
    HttpResponse list = call(what, json_request("GET", url, ""));
    if (list.status != 200) fail(what, list);
    std::vector<RobotInfo> robots = parse_robot_list(list.body, what);
    const size_t got = robots.size();
    all.insert(all.end(), std::make_move_iterator(robots.begin()), std::make_move_iterator(robots.end()));
    if (got < static_cast<size_t>(kPageSize) || page >= 1000) break;
  }
  return all;
}

void HarborApi::delete_robot(const RobotInfo& robot) {
  std::string what = fmt::format("delete robot account {} (id {})", robot.name, robot.id);
  HttpResponse r = call(what, json_request("DELETE", fmt::format("{}/robots/{}", base_, robot.id), ""));
  if (r.status == 200 || registry::api_not_found(r)) return;
  fail(what, r);
}

RobotAccount parse_robot_created(std::string_view body, const std::string& what) {
  auto doc = nlohmann::json::parse(body, nullptr, false);
  RobotAccount robot;
  if (doc.is_object() && doc.contains("name") && doc["name"].is_string() && doc.contains("secret") &&
      doc["secret"].is_string() && doc.contains("id") && doc["id"].is_number_integer()) {
    robot.id = doc["id"].get<int64_t>();
    robot.name = doc["name"].get<std::string>();
    robot.secret = doc["secret"].get<std::string>();
  }
  if (robot.name.empty() || robot.secret.empty())
    throw Error(ErrorKind::Remote, fmt::format("{}: Harbor answered without the robot's name and secret", what));
  return robot;
}

std::vector<RobotInfo> parse_robot_list(std::string_view body, const std::string& what) {
  auto doc = nlohmann::json::parse(body, nullptr, false);
  if (!doc.is_array()) throw Error(ErrorKind::Remote, fmt::format("{}: Harbor answered with no list of robots", what));
  std::vector<RobotInfo> out;
  for (const auto& r : doc) {
    if (!r.is_object() || !r.contains("id") || !r["id"].is_number_integer() || !r.contains("name") ||
        !r["name"].is_string())
      throw Error(ErrorKind::Remote, fmt::format("{}: Harbor listed a robot without its id and name", what));
    RobotInfo info;
    info.id = r["id"].get<int64_t>();
    info.name = r["name"].get<std::string>();
    if (r.contains("description") && r["description"].is_string()) info.description = r["description"].get<std::string>();
    if (r.contains("duration") && r["duration"].is_number_integer()) info.duration = r["duration"].get<int64_t>();
    if (r.contains("expires_at") && r["expires_at"].is_number_integer()) info.expires_at = r["expires_at"].get<int64_t>();
    if (r.contains("creation_time") && r["creation_time"].is_string())
      info.creation_time = r["creation_time"].get<std::string>();
    out.push_back(std::move(info));
  }
  return out;
}

}  // namespace sealift::harbor
