// Pruning the pull robots of a release: which robots are the release's (by description, never by a
// name prefix), which ones a revision in its helm history still uses (kept: each is a rollback
// target), and the whole command against the Harbor stand-in and a real cluster with real helm.
#include "install/robots.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <set>

#include "env/cluster.h"
#include "env/harbor.h"
#include "env/process.h"
#include "util/error.h"
#include "util/fs.h"

namespace sealift::install {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kNow = 1767225600;  // 2026-01-01T00:00:00Z

harbor::RobotInfo robot(int64_t id, const std::string& name, const std::string& description,
                        const std::string& created = "2025-06-01T00:00:00Z") {
  return {id, "robot$ai-saas+" + name, description, 365, kNow + 86400, created};
}

std::set<std::string> names(const std::vector<harbor::RobotInfo>& robots) {
  std::set<std::string> out;
  for (const auto& r : robots) out.insert(r.name);
  return out;
}

std::set<std::string> names(const std::vector<KeptRobot>& robots) {
  std::set<std::string> out;
  for (const auto& r : robots) out.insert(r.robot.name);
  return out;
}

TEST(RobotPrune, KeepsEveryRobotTheHistoryNamesAndDeletesTheReleasesOthers) {
  const std::string mine = pull_robot_description("app", "prod");
  std::vector<harbor::RobotInfo> robots = {
      robot(1, "app-1-0-0", mine),
      robot(2, "app-1-1-0", mine),
      robot(3, "app-1-1-0-2", mine),                                    // a re-run's robot nobody uses
      robot(4, "app-1-2-0", mine),                                      // named without Harbor's prefix below
      robot(5, "app-1-0-0-9", pull_robot_description("app-1", "prod")),  // release "app-1": its name starts "app-1"
      robot(6, "app-2-0-0", pull_robot_description("app", "staging")),   // the same release name elsewhere
      robot(7, "app-0-9-0", std::string(kUnattributedRobotDescription)),
      robot(8, "ci-push", "pushes from CI"),
  };
  std::vector<RevisionPull> history = {
      {1, "superseded", "robot$ai-saas+app-1-0-0"},
      {2, "superseded", ""},  // no pull secret in its values
      {3, "failed", "robot$ai-saas+app-1-1-0"},
      {4, "deployed", "ai-saas+app-1-2-0"},
  };
  RobotPrunePlan plan = plan_robot_prune(robots, history, "app", "prod", kNow, 3600);
  EXPECT_EQ(names(plan.keep), (std::set<std::string>{"robot$ai-saas+app-1-0-0", "robot$ai-saas+app-1-1-0",
                                                      "robot$ai-saas+app-1-2-0"}));
  EXPECT_EQ(names(plan.remove), (std::set<std::string>{"robot$ai-saas+app-1-1-0-2"}));
  EXPECT_EQ(names(plan.unattributed), (std::set<std::string>{"robot$ai-saas+app-0-9-0"}));
  for (const auto& k : plan.keep) {
    if (k.robot.id == 1) {
      EXPECT_EQ(k.why, "used by revision 1 (superseded)");
    }
  }
}

TEST(RobotPrune, AYoungRobotOrOneOfUnknownAgeIsKept) {
  const std::string mine = pull_robot_description("app", "prod");
  std::vector<harbor::RobotInfo> robots = {
      robot(1, "young", mine, "2025-12-31T23:30:00.000Z"),  // half an hour old
      robot(2, "old", mine, "2025-12-31T22:00:00+00:00"),
      robot(3, "unknown", mine, "yesterday"),
  };
  std::vector<RevisionPull> history = {{1, "deployed", ""}};
  RobotPrunePlan plan = plan_robot_prune(robots, history, "app", "prod", kNow, 3600);
  EXPECT_EQ(names(plan.remove), (std::set<std::string>{"robot$ai-saas+old"}));
  EXPECT_EQ(names(plan.keep), (std::set<std::string>{"robot$ai-saas+young", "robot$ai-saas+unknown"}));
  // --min-age 0 looks at the history only.
  EXPECT_EQ(plan_robot_prune(robots, history, "app", "prod", kNow, 0).remove.size(), 3u);
}

TEST(RobotPrune, RefusesWhileHelmIsAtWork) {
  std::vector<RevisionPull> history = {{1, "deployed", ""}, {2, "pending-upgrade", "robot$ai-saas+new"}};
  try {
    plan_robot_prune({}, history, "app", "prod", kNow, 0);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Usage);
    EXPECT_NE(std::string(e.what()).find("pending-upgrade at revision 2"), std::string::npos) << e.what();
  }
}

TEST(RobotPrune, ReadsHarborsTimes) {
  EXPECT_EQ(parse_rfc3339("2026-01-01T00:00:00Z"), kNow);
  EXPECT_EQ(parse_rfc3339("2026-01-01T00:00:00.123456Z"), kNow);
  EXPECT_EQ(parse_rfc3339("2026-01-01T01:00:00+01:00"), kNow);
  EXPECT_EQ(parse_rfc3339("2025-12-31T23:00:00-01:00"), kNow);
  for (const char* bad : {"", "2026-01-01", "2026-01-01T00:00:00", "2026-01-01T00:00:00Zx", "2026-01-01T00:00:00.Z"})
    EXPECT_EQ(parse_rfc3339(bad), -1) << bad;
}

// --robot-duration takes a positive number of days, or -1 on purpose; anything else is refused
// before a bundle is read.
TEST(RobotPrune, RobotDurationIsAPositiveNumberOfDaysOrMinusOne) {
  for (const char* bad : {"0", "-2", "1x", "", "365.5"}) {
    auto r = testenv::run({testenv::install_program(), "install", "missing.tar.zst", "--key", "missing.pub", "--registry",
                           "127.0.0.1:1", "--project", "p", "--create-pull-robot", "--robot-duration", bad});
    EXPECT_NE(r.exit_code, 0) << bad;
    EXPECT_NE(r.err.find("--robot-duration"), std::string::npos) << bad << ": " << r.err;
    EXPECT_EQ(r.err.find("missing.tar.zst"), std::string::npos) << bad << ": " << r.err;
  }
}

// The command end to end: robots made through Harbor's API as --create-pull-robot makes them, a
// release whose revisions name some of them in their pull-secret values, real helm on a real
// cluster, and the stand-in's robot list and delete.
TEST(RobotPrune, DeletesOnlyWhatNoRevisionInTheHistoryUses) {
  auto& cluster = testenv::Cluster::shared();
  testenv::HarborLike target(std::vector<std::string>{"ai-saas"});
  harbor::HarborApi api(target.host(), [] {
    registry::HttpOptions h;
    h.plain_http = true;
    return h;
  }(), {target.admin_user(), target.admin_password(), "test"});
  const std::string ns = "robots-prune";
  const std::string mine = pull_robot_description("web", ns);
  harbor::RobotAccount v1 = api.create_pull_robot("ai-saas", "web-1-0-0", mine);
  harbor::RobotAccount v2 = api.create_pull_robot("ai-saas", "web-1-1-0", mine);
  harbor::RobotAccount retry = api.create_pull_robot("ai-saas", "web-1-1-0-2", mine);
  harbor::RobotAccount other = api.create_pull_robot("ai-saas", "web-1-2-0", pull_robot_description("web-1", ns));
  harbor::RobotAccount legacy = api.create_pull_robot("ai-saas", "old", std::string(kUnattributedRobotDescription));

  testenv::TempDir tmp("sealift-robots");
  const fs::path chart = tmp / "web";
  fs::create_directories(chart / "templates");
  util::write_file_atomic(chart / "Chart.yaml", "apiVersion: v2\nname: web\nversion: 1.0.0\n");
  util::write_file_atomic(chart / "templates/cm.yaml",
                          "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web}\n"
                          "data: {user: {{ .Values.global.pullSecret.username | quote }}}\n");
  auto values_for = [&](const harbor::RobotAccount& r) {
    fs::path f = tmp / (std::to_string(r.id) + ".yaml");
    util::write_file_atomic(f, "global:\n  pullSecret:\n    create: true\n    username: \"" + r.name +
                                   "\"\n    password: \"" + r.secret + "\"\n");
    return f.string();
  };
  auto helm = [&](std::vector<std::string> args) {
    auto r = cluster.helm(args);
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  };
  helm({"upgrade", "--install", "web", chart.string(), "-n", ns, "--create-namespace", "-f", values_for(v1)});
  helm({"upgrade", "web", chart.string(), "-n", ns, "-f", values_for(v2)});

  auto prune = [&](std::vector<std::string> extra, const std::string& release = "web") {
    std::vector<std::string> argv = {testenv::install_program(), "robots", "prune", "--release", release, "-n", ns,
                                     "--registry", target.host(), "--project", "ai-saas", "--plain-http", "--helm",
                                     testenv::peer("helm"), "--kubeconfig", cluster.kubeconfig().string(), "--json"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    auto env = cluster.env();
    env["SEALIFT_REGISTRY_USER"] = target.admin_user();
    env["SEALIFT_REGISTRY_PASSWORD"] = target.admin_password();
    return testenv::run(argv, env);
  };
  auto listed = [&] {
    std::set<std::string> out;
    for (const auto& r : api.list_project_robots("ai-saas")) out.insert(r.name);
    return out;
  };
  auto json_names = [](const nlohmann::json& list) {
    std::set<std::string> out;
    for (const auto& r : list) out.insert(r["name"].get<std::string>());
    return out;
  };

  // Just made: the default --min-age keeps even the unused robot.
  auto young = prune({"--dry-run"});
  ASSERT_EQ(young.exit_code, 0) << young.out << young.err;
  EXPECT_TRUE(nlohmann::json::parse(young.out)["wouldDelete"].empty()) << young.out;

  auto dry = prune({"--dry-run", "--min-age", "0"});
  ASSERT_EQ(dry.exit_code, 0) << dry.out << dry.err;
  auto plan = nlohmann::json::parse(dry.out);
  EXPECT_EQ(json_names(plan["wouldDelete"]), std::set<std::string>{retry.name}) << dry.out;
  EXPECT_EQ(json_names(plan["kept"]), (std::set<std::string>{v1.name, v2.name})) << dry.out;
  EXPECT_EQ(json_names(plan["unattributed"]), std::set<std::string>{legacy.name}) << dry.out;
  EXPECT_EQ(target.count_requests("DELETE", "/api/v2.0/robots"), 0u);
  EXPECT_EQ(dry.out.find(v1.secret), std::string::npos);

  auto real = prune({"--min-age", "0"});
  ASSERT_EQ(real.exit_code, 0) << real.out << real.err;
  EXPECT_EQ(json_names(nlohmann::json::parse(real.out)["deleted"]), std::set<std::string>{retry.name});
  EXPECT_EQ(listed(), (std::set<std::string>{v1.name, v2.name, other.name, legacy.name}));

  // Once helm's history no longer holds revision 1 (--history-max), nothing can roll back to it:
  // its robot goes, the deployed revision's stays.
  helm({"upgrade", "web", chart.string(), "-n", ns, "-f", values_for(v2), "--history-max", "2"});
  auto after = prune({"--min-age", "0"});
  ASSERT_EQ(after.exit_code, 0) << after.out << after.err;
  EXPECT_EQ(json_names(nlohmann::json::parse(after.out)["deleted"]), std::set<std::string>{v1.name});
  EXPECT_EQ(listed(), (std::set<std::string>{v2.name, other.name, legacy.name}));

  // A release that is not there (a typo, another cluster) tells nothing: nothing is deleted.
  const size_t deletes = target.count_requests("DELETE", "/api/v2.0/robots");
  auto missing = prune({"--min-age", "0"}, "web-typo");
  EXPECT_EQ(missing.exit_code, 2) << missing.out << missing.err;
  EXPECT_NE(missing.err.find("web-typo"), std::string::npos) << missing.err;
  EXPECT_EQ(target.count_requests("DELETE", "/api/v2.0/robots"), deletes);
  helm({"uninstall", "web", "-n", ns});
}

}  // namespace
}  // namespace sealift::install
