// The pull robots sealift makes in Harbor for a release (--create-pull-robot) and pruning the ones
// the release no longer uses. Harbor shows a robot's secret only once, so every install or upgrade
// with --create-pull-robot makes a new robot; each expires (--robot-duration, default 365 days),
// and `robots prune` deletes those no revision in the release's helm history refers to.
//
// A robot belongs to a release by its description, which names the release and its namespace
// (pull_robot_description); the name alone ("<release>-<version>[-N]") is ambiguous between
// releases "app" and "app-1". Which robot a revision uses is read from that revision's values
// (global.pullSecret.username, `helm get values --revision N`).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "harbor/api.h"
#include "helm/helm.h"

namespace sealift::install {

// "sealift: image pulls for release <release> in namespace <namespace>".
std::string pull_robot_description(const std::string& release, const std::string& namespace_name);
// The description of robots made before it named the release: never attributed, never pruned.
inline constexpr std::string_view kUnattributedRobotDescription = "sealift: image pulls for the cluster";

struct PullRobotRequest {
  std::string project;
  std::string release;
  std::string namespace_name;
  std::string bundle_version;
  int duration_days = harbor::kDefaultRobotDays;  // -1: never expires
};

struct CreatedPullRobot {
  harbor::RobotAccount robot;
  std::string taken;  // the last name an earlier run holds ("" when the first one was free)
};

// Creates the pull robot "<release>-<bundle version>" (characters other than letters, digits and
// '-' become '-'), or the next free "-2" ... "-32": a re-run cannot reuse a robot whose secret
// Harbor no longer shows, and renewing its secret would break the revision running with it.
CreatedPullRobot create_pull_robot(harbor::HarborApi& harbor, const PullRobotRequest& request);

// One revision of the release's helm history and the pull-secret user its values name ("" when
// they name none).
struct RevisionPull {
  int revision = 0;
  std::string status;
  std::string username;
};

// Reads the release's history and each revision's values. Throws Error(Usage) when the release
// has no history (not installed, wrong namespace or cluster): then nothing says which robots are
// in use.
std::vector<RevisionPull> release_pull_users(const helm::Helm& helm, const std::string& release,
                                             const std::string& namespace_name);

struct KeptRobot {
  harbor::RobotInfo robot;
  std::string why;
};

struct RobotPrunePlan {
  std::vector<KeptRobot> keep;                   // the release's robots still in use (or too new)
  std::vector<harbor::RobotInfo> remove;         // the release's robots no revision uses
  std::vector<harbor::RobotInfo> unattributed;   // sealift's robots from before they named a release
};

// Decides, for the robots of a project: a robot of this release is kept while any revision in the
// release's history names it (each one is a `helm rollback` target, and the deployed one is running),
// or when it was created less than `min_age_seconds` before `now` (an install that made it may not
// have recorded its revision yet), or its creation time is unreadable; otherwise it is removed.
// Other robots are not touched. Throws Error(Usage) while a revision is pending (helm is at work).
RobotPrunePlan plan_robot_prune(const std::vector<harbor::RobotInfo>& robots, const std::vector<RevisionPull>& history,
                                const std::string& release, const std::string& namespace_name, int64_t now,
                                int64_t min_age_seconds);

// "2026-01-02T03:04:05Z", "2026-01-02T03:04:05.123+01:00" -> Unix seconds; -1 when unreadable.
int64_t parse_rfc3339(const std::string& text);

}  // namespace sealift::install
