// Running the real helm: finding the binary, rendering, linting, and helm's own error messages
// carried into sealift's errors.
#include <gtest/gtest.h>

#include <cstdlib>

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

// Sets an environment variable for one scope.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() {
    if (old_) setenv(name_, old_->c_str(), 1);
    else unsetenv(name_);
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

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

TEST(Helm, RendersWithValuesFilesAndSetInOrder) {
  testenv::TempDir tmp;
  const auto chart = tiny_chart(tmp, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\n"
                                     "  namespace: {{ .Release.Namespace }}\ndata:\n  greeting: {{ .Values.greeting }}\n"
                                     "  kube: {{ .Capabilities.KubeVersion.Version }}\n");
  util::write_file_atomic(tmp.path() / "a.yaml", "greeting: from-a\n");
  util::write_file_atomic(tmp.path() / "b.yaml", "greeting: from-b\n");
  Helm helm(testenv::peer("helm"));
  EXPECT_EQ(helm.version().rfind("v3.", 0), 0u) << helm.version();
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

TEST(Helm, CarriesHelmsMessageIntoTheError) {
  testenv::TempDir tmp;
  const auto chart = tiny_chart(tmp, "{{ fail \"the greeting is rude\" }}\n");
  Helm helm(testenv::peer("helm"));
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

TEST(Helm, LintFailsOnABrokenChart) {
  testenv::TempDir tmp;
  const auto chart = tiny_chart(tmp, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  a: {{ .Values.greeting\n");
  Helm helm(testenv::peer("helm"));
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

}  // namespace
}  // namespace sealift::helm
