#include "install/robots.h"

#include <cctype>
#include <cstdio>
#include <ctime>
#include <map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "util/error.h"

namespace sealift::install {

namespace {

// "robot$proj+name" and "proj+name" name the same robot: Harbor's prefix ("robot$") is configurable.
std::string_view without_prefix(std::string_view name) {
  auto dollar = name.find('$');
  return dollar == std::string_view::npos ? name : name.substr(dollar + 1);
}

std::string pull_username(const nlohmann::json& values) {
  const nlohmann::json* v = &values;
  for (const char* key : {"global", "pullSecret", "username"}) {
    if (!v->is_object() || !v->contains(key)) return {};
    v = &(*v)[key];
  }
  return v->is_string() ? v->get<std::string>() : std::string();
}

}  // namespace

std::string pull_robot_description(const std::string& release, const std::string& namespace_name) {
  return fmt::format("sealift: image pulls for release {} in namespace {}", release, namespace_name);
}

CreatedPullRobot create_pull_robot(harbor::HarborApi& harbor, const PullRobotRequest& request) {
  std::string name = fmt::format("{}-{}", request.release, request.bundle_version);
  for (char& c : name)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-') c = '-';
  const std::string description = pull_robot_description(request.release, request.namespace_name);
  CreatedPullRobot created;
  for (int n = 1; n <= 32; ++n) {
    std::string candidate = n == 1 ? name : fmt::format("{}-{}", name, n);
    if (auto robot = harbor.try_create_pull_robot(request.project, candidate, description, request.duration_days)) {
      created.robot = std::move(*robot);
      return created;
    }
    created.taken = candidate;
  }
  throw Error(ErrorKind::Remote,
              fmt::format("robot accounts {} to {}-32 all exist in Harbor project \"{}\"", name, name, request.project),
              fmt::format("`sealift-install robots prune --release {} -n {}` deletes the ones no revision uses, "
                          "or pass --pull-username",
                          request.release, request.namespace_name));
}

std::vector<RevisionPull> release_pull_users(const helm::Helm& helm, const std::string& release,
                                             const std::string& namespace_name) {
  std::string text;
  try {
    text = helm.history_json(release, namespace_name);
  } catch (const Error& e) {
    throw Error(ErrorKind::Usage,
                fmt::format("cannot read the history of release {} in {}: {}", release, namespace_name, e.what()),
                "name the release and namespace it was installed with (and --kubeconfig/--kube-context of its "
                "cluster); without its history nothing tells which robots are still in use");
  }
  auto history = nlohmann::json::parse(text, nullptr, false);
  if (!history.is_array() || history.empty())
    throw Error(ErrorKind::Usage, fmt::format("release {} in {} has no history", release, namespace_name),
                "without it nothing tells which robots are still in use; delete them in Harbor by hand");
  std::vector<RevisionPull> out;
  for (const auto& h : history) {
    if (!h.is_object() || !h.contains("revision") || !h["revision"].is_number_integer())
      throw Error(ErrorKind::Tool, fmt::format("helm history of {} lists a revision without its number", release));
    RevisionPull r;
    r.revision = h["revision"].get<int>();
    r.status = h.value("status", "");
    auto values = nlohmann::json::parse(helm.values_json(release, namespace_name, r.revision), nullptr, false);
    if (values.is_discarded())
      throw Error(ErrorKind::Tool, fmt::format("helm get values of {} revision {} is not JSON", release, r.revision));
    r.username = pull_username(values);
    out.push_back(std::move(r));
  }
  return out;
}

RobotPrunePlan plan_robot_prune(const std::vector<harbor::RobotInfo>& robots, const std::vector<RevisionPull>& history,
                                const std::string& release, const std::string& namespace_name, int64_t now,
                                int64_t min_age_seconds) {
  for (const auto& r : history)
    if (r.status.rfind("pending-", 0) == 0)
      throw Error(ErrorKind::Usage,
                  fmt::format("release {} in {} is {} at revision {}: helm is at work", release, namespace_name,
                              r.status, r.revision),
                  "prune once the install, upgrade or rollback has finished");
  std::map<std::string, std::vector<const RevisionPull*>, std::less<>> users;
  for (const auto& r : history)
    if (!r.username.empty()) users[std::string(without_prefix(r.username))].push_back(&r);
  const std::string mine = pull_robot_description(release, namespace_name);
  RobotPrunePlan plan;
  for (const auto& robot : robots) {
    if (robot.description == kUnattributedRobotDescription) {
      plan.unattributed.push_back(robot);
      continue;
    }
    if (robot.description != mine) continue;
    if (auto it = users.find(without_prefix(robot.name)); it != users.end()) {
      std::string why;
      for (const RevisionPull* r : it->second)
        why += fmt::format("{}revision {} ({})", why.empty() ? "" : ", ", r->revision, r->status);
      plan.keep.push_back({robot, "used by " + why});
      continue;
    }
    if (min_age_seconds > 0) {
      int64_t created = parse_rfc3339(robot.creation_time);
      if (created < 0) {
        plan.keep.push_back({robot, fmt::format("creation time {:?} unreadable", robot.creation_time)});
        continue;
      }
      if (now - created < min_age_seconds) {
        plan.keep.push_back({robot, fmt::format("created {} s ago, may belong to an install in progress", now - created)});
        continue;
      }
    }
    plan.remove.push_back(robot);
  }
  return plan;
}

int64_t parse_rfc3339(const std::string& text) {
  std::tm tm{};
  const char* rest = strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (!rest) return -1;
  if (*rest == '.') {
    ++rest;
    if (!std::isdigit(static_cast<unsigned char>(*rest))) return -1;
    while (std::isdigit(static_cast<unsigned char>(*rest))) ++rest;
  }
  int64_t offset = 0;
  if (*rest == 'Z' || *rest == 'z') {
    ++rest;
  } else if (*rest == '+' || *rest == '-') {
    int hours = 0, minutes = 0, used = 0;
    if (std::sscanf(rest + 1, "%2d:%2d%n", &hours, &minutes, &used) != 2 || used != 5) return -1;
    offset = (*rest == '+' ? 1 : -1) * (hours * 3600 + minutes * 60);
    rest += 6;
  } else {
    return -1;
  }
  if (*rest != '\0') return -1;
  return static_cast<int64_t>(timegm(&tm)) - offset;
}

}  // namespace sealift::install
