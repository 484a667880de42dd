// Running the real helm (helm 3 and helm 4): finding the binary, its major version and the flags
// each version takes, rendering, linting, and helm's own error messages carried into sealift's
// errors.
#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <sstream>

#include "env/process.h"
#include "helm/helm.h"
#include "util/error.h"
#include "util/fs.h"

namespace sealift::helm {
namespace {

namespace fs = std::filesystem;

// A one-template chart in a scratch directory.
fs::path tiny_chart(const testenv::TempDir& tmp, const std::string& template_text) {
  const fs::path dir = tmp.path() / "tiny";
  fs::create_directories(dir / "templates");
  util::write_file_atomic(dir / "Chart.yaml", "apiVersion: v2\nname: tiny\nversion: 0.1.0\n");
  util::write_file_atomic(dir / "values.yaml", "greeting: hello\n");
  util::write_file_atomic(dir / "templates/cm.yaml", template_text);
  return dir;
}

using testenv::ScopedEnv;

TEST(Helm, LocatesTheBinary) {
  const fs::path real = testenv::peer("helm");
  EXPECT_EQ(locate(real), real);
  try {
    locate("/nonexistent/helm");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Tool);
    EXPECT_NE(std::string(e.what()).find("/nonexistent/helm"), std::string::npos);
  }
  {
    ScopedEnv env("SEALIFT_HELM", real.string());
    EXPECT_EQ(locate(), real);
  }
  {
    ScopedEnv env("SEALIFT_HELM", "/nonexistent/helm");
    EXPECT_THROW(locate(), Error);
  }
  {
    ScopedEnv env("SEALIFT_HELM", "");
    ScopedEnv path("PATH", real.parent_path().string());
    EXPECT_EQ(locate(), real.parent_path() / "helm");
  }
  {
    ScopedEnv env("SEALIFT_HELM", "");
    ScopedEnv path("PATH", "/nonexistent");
    try {
      locate();
      FAIL();
    } catch (const Error& e) {
      EXPECT_NE(e.hint().find("SEALIFT_HELM"), std::string::npos);
    }
  }
}

// The tests that run helm's commands run with helm 3 and with helm 4; GetParam() is the peer name.
class HelmPeer : public testing::TestWithParam<std::string> {
 protected:
  Helm helm() const { return Helm(testenv::peer(GetParam())); }
  Major expected_major() const { return GetParam() == "helm" ? Major::v3 : Major::v4; }
};

TEST_P(HelmPeer, RendersWithValuesFilesAndSetInOrder) {
  testenv::TempDir tmp;
  const auto chart = tiny_chart(tmp, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\n"
                                     "  namespace: {{ .Release.Namespace }}\ndata:\n  greeting: {{ .Values.greeting }}\n"
                                     "  kube: {{ .Capabilities.KubeVersion.Version }}\n");
  util::write_file_atomic(tmp.path() / "a.yaml", "greeting: from-a\n");
  util::write_file_atomic(tmp.path() / "b.yaml", "greeting: from-b\n");
  Helm helm = this->helm();
  TemplateOptions options;
  options.release = "rel";
  options.namespace_name = "space";
  options.kube_version = "1.31.2";
  std::string out = helm.render(chart, options);
  EXPECT_NE(out.find("name: rel\n"), std::string::npos) << out;
  EXPECT_NE(out.find("namespace: space\n"), std::string::npos) << out;
  EXPECT_NE(out.find("greeting: hello\n"), std::string::npos) << out;
  EXPECT_NE(out.find("kube: v1.31.2\n"), std::string::npos) << out;
  options.values.files = {tmp.path() / "a.yaml", tmp.path() / "b.yaml"};
  EXPECT_NE(helm.render(chart, options).find("greeting: from-b\n"), std::string::npos);
  options.values.set = {"greeting=from-set"};
  EXPECT_NE(helm.render(chart, options).find("greeting: from-set\n"), std::string::npos);
}

TEST_P(HelmPeer, CarriesHelmsMessageIntoTheError) {
  testenv::TempDir tmp;
  const auto chart = tiny_chart(tmp, "{{ fail \"the greeting is rude\" }}\n");
  Helm helm = this->helm();
  try {
    helm.render(chart, {});
    FAIL() << "a failing template rendered";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Tool);
    const std::string what = e.what();
    EXPECT_EQ(what.rfind("helm template failed (exit 1): ", 0), 0u) << what;
    EXPECT_NE(what.find("the greeting is rude"), std::string::npos) << what;
    EXPECT_EQ(what.find("--debug"), std::string::npos) << what;
  }
  EXPECT_THROW(helm.render(tmp.path() / "no-such-chart", {}), Error);
}

TEST_P(HelmPeer, LintFailsOnABrokenChart) {
  testenv::TempDir tmp;
  const auto chart = tiny_chart(tmp, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  a: {{ .Values.greeting\n");
  Helm helm = this->helm();
  try {
    helm.lint(chart, {});
    FAIL() << "a chart with a broken template linted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("helm lint failed"), std::string::npos) << e.what();
  }
  const auto good = tiny_chart(tmp, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  a: b\n");
  EXPECT_NE(helm.lint(good, {}).find("0 chart(s) failed"), std::string::npos);
  EXPECT_NE(helm.show_chart(good).find("name: tiny"), std::string::npos);
}

TEST(Helm, PassesTheEnvironmentItWasGiven) {
  testenv::TempDir tmp;
  // helm refuses a kubeconfig that does not exist only when it needs a cluster: status does.
  Helm helm(testenv::peer("helm"), {{"KUBECONFIG", (tmp.path() / "missing-kubeconfig").string()},
                                    {"HELM_CACHE_HOME", (tmp.path() / "cache").string()},
                                    {"HELM_CONFIG_HOME", (tmp.path() / "config").string()},
                                    {"HELM_DATA_HOME", (tmp.path() / "data").string()}});
  try {
    helm.status_json("nothing", "default");
    FAIL() << "helm status without a cluster succeeded";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Tool);
    EXPECT_NE(std::string(e.what()).find("helm status failed"), std::string::npos) << e.what();
  }
}

// An empty PATH entry means the current directory to a shell; a helm planted there (say, in the
// directory a bundle was unpacked to) is neither located nor run.
TEST(Helm, AHelmInTheCurrentDirectoryIsNotTaken) {
  testenv::TempDir tmp;
  util::write_file_atomic(tmp / "helm", "#!/bin/sh\necho planted\n", 0755);
  const fs::path old_cwd = fs::current_path();
  fs::current_path(tmp.path());
  ScopedEnv env("SEALIFT_HELM", "");
  ScopedEnv path("PATH", "/nonexistent::.");
  std::optional<fs::path> found;
  try {
    found = locate();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Tool);
  }
  fs::current_path(old_cwd);
  EXPECT_FALSE(found) << "took " << *found;
}

TEST_P(HelmPeer, KnowsItsMajorVersion) {
  Helm helm = this->helm();
  EXPECT_EQ(helm.major(), expected_major()) << helm.version();
  EXPECT_EQ(helm.version().rfind(expected_major() == Major::v3 ? "v3." : "v4.", 0), 0u) << helm.version();
}

// The flags `helm CMD --help` lists, with the text of each line. cobra leaves deprecated flags out
// of the help, so a flag listed here is one this helm takes without a deprecation warning.
std::map<std::string, std::string> listed_flags(const std::string& binary, const std::string& command) {
  testenv::RunResult r = testenv::run({binary, command, "--help"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::map<std::string, std::string> flags;
  std::istringstream in(r.out);
  for (std::string l; std::getline(in, l);) {
    // "  -i, --install   text" or "      --wait WaitStrategy[=watcher]   text"
    size_t at = l.find_first_not_of(' ');
    if (at == 0 || at == std::string::npos) continue;
    if (l.compare(at, 1, "-") == 0 && l.compare(at, 2, "--") != 0) at += 4;  // "-i, "
    if (l.compare(at, 2, "--") != 0) continue;
    const size_t end = l.find(' ', at);
    flags[l.substr(at + 2, end == std::string::npos ? end : end - at - 2)] = end == std::string::npos ? "" : l.substr(end);
  }
  return flags;
}

// Each --flag in `args` that `helm CMD --help` does not list as this helm takes it: unknown, or
// deprecated, or a switch given a value ("--wait=watcher" to helm 3).
std::vector<std::string> flags_not_taken(const std::string& binary, const std::vector<std::string>& args) {
  const auto listed = listed_flags(binary, args.at(0));
  std::vector<std::string> out;
  for (const auto& a : args) {
    if (a.rfind("--", 0) != 0) continue;
    const size_t eq = a.find('=');
    const std::string name = a.substr(2, eq == std::string::npos ? eq : eq - 2);
    auto it = listed.find(name);
    if (it == listed.end()) {
      out.push_back(a + " (not listed)");
      continue;
    }
    // "--wait WaitStrategy[=watcher]  ... 'watcher' ...": a typed flag whose help names the value.
    if (eq != std::string::npos &&
        (it->second.rfind(" ", 0) != 0 || it->second.size() < 2 || it->second[1] == ' ' ||
         it->second.find(a.substr(eq + 1)) == std::string::npos))
      out.push_back(a + " (takes no such value)");
  }
  return out;
}

TEST_P(HelmPeer, TakesEveryFlagSealiftGivesIt) {
  const std::string binary = testenv::peer(GetParam());
  const Major mine = expected_major(), other = mine == Major::v3 ? Major::v4 : Major::v3;
  UpgradeOptions u;
  u.atomic = true;
  u.create_namespace = true;
  u.description = "sealift bundle x 1.0.0";
  u.values = {{"a.yaml"}, {"k=v"}};
  TemplateOptions t;
  t.validate = true;
  t.kube_version = "1.36.0";
  t.values = u.values;
  const std::vector<std::vector<std::string>> commands{
      upgrade_args(mine, "rel", "chart.tgz", u), rollback_args(mine, "rel", 1, "ns", true, "5m"),
      template_args(mine, "chart.tgz", t), {"lint", "--strict", "--kube-version"}};
  for (const auto& args : commands)
    EXPECT_EQ(flags_not_taken(binary, args), std::vector<std::string>{}) << testing::PrintToString(args);
  // The other version's flags are not all this helm's, so the check above can fail: helm 3 has no
  // --rollback-on-failure and no --wait=STRATEGY; helm 4 hides the deprecated --atomic and
  // --validate. (helm 4 still takes a bare --wait, helm 3's template --dry-run=server.)
  EXPECT_NE(flags_not_taken(binary, upgrade_args(other, "rel", "chart.tgz", u)), std::vector<std::string>{});
  if (mine == Major::v3)
    EXPECT_NE(flags_not_taken(binary, rollback_args(other, "rel", 1, "ns", true, "5m")), std::vector<std::string>{});
  else
    EXPECT_NE(flags_not_taken(binary, template_args(other, "chart.tgz", t)), std::vector<std::string>{});
}

INSTANTIATE_TEST_SUITE_P(HelmVersions, HelmPeer, testing::ValuesIn(testenv::helm_peers()),
                         [](const testing::TestParamInfo<std::string>& i) { return testenv::helm_case_name(i.param); });

// What sealift says when the binary it is given is not helm 3 or helm 4: the binary, what it
// printed, and what to do.
void expect_refused(std::string_view printed, const std::string& says) {
  try {
    parse_major(printed, "/opt/tools/helm");
    ADD_FAILURE() << "accepted \"" << printed << "\"";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Tool);
    const std::string what = e.what();
    EXPECT_NE(what.find("/opt/tools/helm"), std::string::npos) << what;
    EXPECT_NE(what.find(says), std::string::npos) << what;
    EXPECT_NE(e.hint().find("--helm"), std::string::npos) << e.hint();
  }
}

TEST(HelmVersion, TheMajorVersionIsReadStrictly) {
  EXPECT_EQ(parse_major("v3.21.4", "helm"), Major::v3);
  EXPECT_EQ(parse_major("v4.3.1", "helm"), Major::v4);
  EXPECT_EQ(parse_major("v4.3.1-rc.1+b7c2f9e", "helm"), Major::v4);
  EXPECT_EQ(parse_major("v3.21.4+g5a0c3b1", "helm"), Major::v3);
  // A helm built without the release Makefile's -ldflags says only major.minor.
  EXPECT_EQ(parse_major("v4.3", "helm"), Major::v4);

  expect_refused("v2.17.0", "helm 2 (with Tiller) is not supported");
  expect_refused("v5.0.0", "is helm v5.0.0: sealift knows the flags of helm 3 and helm 4 only");
  expect_refused("", "printed nothing");
  for (std::string_view bad : {"3.21.4", "v3", "v3.", "v3.21.", "v3.21.4-", "v3.21.4+", "v3.21.4-rc..1", "v03.21.4",
                               "v3.21-rc.1", "v3.x.4", "v3.21.4 ", "v3.21.4\nv4.3.1", "V3.21.4",
                               "Client: &version.Version{SemVer:\"v2.17.0\"}"})
    expect_refused(bad, "does not look like helm 3 or 4");
  // What was printed is quoted with its control characters shown, and cut short.
  expect_refused("v3.21.4\x1b[0m", R"(printed "v3.21.4\x1b[0m")");
  expect_refused(std::string(300, 'x'), std::string(200, 'x') + "...\"");
}

TEST(HelmVersion, ABinaryThatIsNotHelmIsRefusedNamingItAndWhatItPrinted) {
  // echo prints its arguments: "version --template {{.Version}}".
  try {
    Helm("/bin/echo").version();
    FAIL() << "echo passed for helm";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Tool);
    EXPECT_NE(std::string(e.what()).find(R"(/bin/echo does not look like helm 3 or 4: `version --template {{.Version}}` printed "version --template {{.Version}}")"),
              std::string::npos)
        << e.what();
  }
  // crane has a version command, without --template: its own error is carried.
  const std::string crane = testenv::peer("crane");
  try {
    Helm(crane).version();
    FAIL() << "crane passed for helm";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Tool);
    EXPECT_EQ(std::string(e.what()).rfind(crane + ": helm version failed (exit 1): ", 0), 0u) << e.what();
    EXPECT_NE(std::string(e.what()).find("--template"), std::string::npos) << e.what();
  }
}

UpgradeOptions every_upgrade_option() {
  UpgradeOptions u;
  u.namespace_name = "ns";
  u.timeout = "4m";
  u.atomic = true;
  u.create_namespace = true;
  u.description = "from a bundle";
  u.values = {{"a.yaml", "b.yaml"}, {"k=v"}};
  return u;
}

TEST(HelmFlags, UpgradeTakesTheFlagsOfEachVersion) {
  const UpgradeOptions u = every_upgrade_option();
  using V = std::vector<std::string>;
  EXPECT_EQ(upgrade_args(Major::v3, "rel", "c.tgz", u),
            (V{"upgrade", "rel", "c.tgz", "--namespace", "ns", "--timeout", "4m", "--install", "--wait", "--atomic",
               "--create-namespace", "--description", "from a bundle", "--values", "a.yaml", "--values", "b.yaml",
               "--set", "k=v"}));
  EXPECT_EQ(upgrade_args(Major::v4, "rel", "c.tgz", u),
            (V{"upgrade", "rel", "c.tgz", "--namespace", "ns", "--timeout", "4m", "--install", "--wait=watcher",
               "--rollback-on-failure", "--create-namespace", "--description", "from a bundle", "--values", "a.yaml",
               "--values", "b.yaml", "--set", "k=v"}));
  // --no-wait --no-atomic: neither version gets a wait or a rollback flag (helm 4's default wait,
  // hookOnly, is what helm 3 does without --wait).
  UpgradeOptions bare = u;
  bare.wait = bare.atomic = bare.install = bare.create_namespace = false;
  bare.description.clear();
  bare.values = {};
  for (Major m : {Major::v3, Major::v4})
    EXPECT_EQ(upgrade_args(m, "rel", "c.tgz", bare), (V{"upgrade", "rel", "c.tgz", "--namespace", "ns", "--timeout", "4m"}));
}

TEST(HelmFlags, RollbackAndTemplateTakeTheFlagsOfEachVersion) {
  using V = std::vector<std::string>;
  EXPECT_EQ(rollback_args(Major::v3, "rel", 2, "ns", true, "3m"),
            (V{"rollback", "rel", "2", "--namespace", "ns", "--timeout", "3m", "--wait"}));
  EXPECT_EQ(rollback_args(Major::v4, "rel", 2, "ns", true, "3m"),
            (V{"rollback", "rel", "2", "--namespace", "ns", "--timeout", "3m", "--wait=watcher"}));
  EXPECT_EQ(rollback_args(Major::v4, "rel", 0, "ns", false, "3m"),
            (V{"rollback", "rel", "--namespace", "ns", "--timeout", "3m"}));

  TemplateOptions t;
  t.release = "rel";
  t.namespace_name = "ns";
  t.validate = true;
  t.values.set = {"k=v"};
  EXPECT_EQ(template_args(Major::v3, "c.tgz", t),
            (V{"template", "rel", "c.tgz", "--namespace", "ns", "--validate", "--set", "k=v"}));
  EXPECT_EQ(template_args(Major::v4, "c.tgz", t),
            (V{"template", "rel", "c.tgz", "--namespace", "ns", "--dry-run=server", "--set", "k=v"}));
  t.validate = false;
  t.kube_version = "1.36.0";
  for (Major m : {Major::v3, Major::v4})
    EXPECT_EQ(template_args(m, "c.tgz", t),
              (V{"template", "rel", "c.tgz", "--namespace", "ns", "--kube-version", "1.36.0", "--set", "k=v"}));
}

}  // namespace
}  // namespace sealift::helm
