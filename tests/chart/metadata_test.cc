// Chart.yaml as helm reads it, and helm's OCI config blob derived from it (wire-formats §14.2).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "chart/metadata.h"
#include "chart/package.h"
#include "chart/render.h"
#include "env/registry.h"
#include "util/error.h"

namespace sealift::charttest {
namespace {

TEST(ChartMetadata, ReadsTheRepositoryChart) {
  auto m = chart::Metadata::load(chart_dir());
  EXPECT_EQ(m.api_version, "v2");
  EXPECT_EQ(m.name, "ai-saas-dashboard");
  EXPECT_EQ(m.version, "1.0.0");
  EXPECT_EQ(m.app_version, "1.0.0");
  EXPECT_EQ(m.type, "application");
  EXPECT_EQ(m.kube_version, ">=1.25.0-0");
  EXPECT_TRUE(m.annotations.count("sealift.dev/images"));
}

TEST(ChartMetadata, ConfigBlobHasGoFieldOrderOmitEmptyAndGoEscaping) {
  const auto m = chart::Metadata::parse(R"(apiVersion: v2
type: application
name: demo
version: 1.2.3
appVersion: "4.5"
description: A <demo> & more
kubeVersion: ">=1.25.0-0"
keywords: [a, b]
home: https://example.com
sources: [https://git.example.com/demo]
maintainers:
  - name: Ops
    email: ops@example.com
deprecated: true
annotations:
  z.example/last: "1"
  a.example/first: "line one
    line two"
dependencies:
  - name: sub
    version: 1.0.0
    repository: file://../sub
    condition: sub.enabled
    import-values: [data]
)");
  EXPECT_EQ(m.config_json(),
            R"({"name":"demo","home":"https://example.com","sources":["https://git.example.com/demo"],"version":"1.2.3",)"
            R"("description":"A \u003cdemo\u003e \u0026 more","keywords":["a","b"],)"
            R"("maintainers":[{"name":"Ops","email":"ops@example.com"}],"apiVersion":"v2","appVersion":"4.5",)"
            R"("deprecated":true,"annotations":{"a.example/first":"line one line two","z.example/last":"1"},)"
            R"("kubeVersion":"\u003e=1.25.0-0","dependencies":[{"name":"sub","version":"1.0.0",)"
            R"("repository":"file://../sub","condition":"sub.enabled","import-values":["data"]}],"type":"application"})");
}

TEST(ChartMetadata, MinimalChartGivesMinimalBlob) {
  const auto m = chart::Metadata::parse("apiVersion: v2\nname: x\nversion: 0.1.0\n");
  EXPECT_EQ(m.config_json(), R"({"name":"x","version":"0.1.0","apiVersion":"v2"})");
}

TEST(ChartMetadata, RefusesMalformedChartYaml) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"apiVersion: v2\nname: x\n", "version is required"},
      {"name: x\nversion: 1\n", "apiVersion is required"},
      {"apiVersion: v2\nname: x\nversion: 1\nunknown: 1\n", "Chart.yaml:4:1: unknown field \"unknown\""},
      {"apiVersion: v2\nname: x\nversion: 1\nkeywords: a\n", "keywords must be a list"},
      {"apiVersion: v2\nname: x\nversion: 1\ndeprecated: maybe\n", "deprecated must be true or false"},
      {"apiVersion: v2\nname: [x]\nversion: 1\n", "name must be a string"},
      {"apiVersion: v2\nname: ../x\nversion: 1.0.0\n", "name \"../x\" is not a chart name"},
      {"apiVersion: v2\nname: x\nversion: 1.0/../..\n", "version \"1.0/../..\" is not a SemVer 2 version"},
      {"apiVersion: v2\nname: x\nversion: 1\nmaintainers: [{name: a, phone: 1}]\n", "unknown maintainer field"},
      {"apiVersion: v2\nname: x\nversion: 1\ndependencies: [{version: 1}]\n", "has no name"},
      {"apiVersion: v2\nname: x\nversion: \"1\nbroken", "Chart.yaml:"},
      {"- a\n- b\n", "not a map"},
  };
  for (const auto& [text, reason] : cases) {
    try {
      chart::Metadata::parse(text);
      ADD_FAILURE() << "accepted:\n" << text;
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::Input);
      EXPECT_NE(std::string(e.what()).find(reason), std::string::npos) << e.what();
    }
  }
}

TEST(ChartMetadata, ConfigBlobIsWhatHelmPushWrites) {
  // helm push of our package to a real registry: helm's config blob must be byte-identical to ours
  // and its chart layer must be our .tgz, byte for byte.
  testenv::Registry registry;
  testenv::TempDir tmp;
  const auto packaged = chart::package_to_dir(chart_dir(), tmp.path());
  const std::map<std::string, std::string> env = {{"HELM_CACHE_HOME", (tmp.path() / "cache").string()},
                                                  {"HELM_CONFIG_HOME", (tmp.path() / "config").string()},
                                                  {"HELM_DATA_HOME", (tmp.path() / "data").string()}};
  auto push = testenv::run({testenv::peer("helm"), "push", packaged.path.string(), "oci://" + registry.host() + "/charts",
                            "--plain-http"},
                           env);
  ASSERT_EQ(push.exit_code, 0) << push.err;
  const std::string ref = registry.host() + "/charts/ai-saas-dashboard";
  auto manifest = testenv::run({testenv::peer("crane"), "manifest", "--insecure", ref + ":1.0.0"});
  ASSERT_EQ(manifest.exit_code, 0) << manifest.err;
  auto m = nlohmann::json::parse(manifest.out);
  EXPECT_EQ(m["config"]["mediaType"], "application/vnd.cncf.helm.config.v1+json");
  EXPECT_EQ(m["layers"][0]["digest"], packaged.package.digest.str());
  auto config = testenv::run({testenv::peer("crane"), "blob", "--insecure", ref + "@" + m["config"]["digest"].get<std::string>()});
  ASSERT_EQ(config.exit_code, 0) << config.err;
  EXPECT_EQ(config.out, chart::Metadata::load(chart_dir()).config_json());
}

}  // namespace
}  // namespace sealift::charttest
