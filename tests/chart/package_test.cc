// The deterministic chart package: the same bytes every time, the same files `helm package`
// takes (its .helmignore rules), and a .tgz the real helm shows, lints and renders like the
// directory.
#include <gtest/gtest.h>

#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>

#include <chrono>
#include <set>

#include "chart/package.h"
#include "chart/render.h"
#include "util/error.h"
#include "util/fs.h"

namespace sealift::charttest {
namespace {

namespace fs = std::filesystem;

struct TarEntry {
  std::string path;
  int64_t mtime;
  int64_t uid, gid;
  unsigned mode;
  int64_t size;
};

std::vector<TarEntry> tar_entries(const fs::path& tgz) {
  std::vector<TarEntry> out;
  struct archive* a = archive_read_new();
  archive_read_support_filter_gzip(a);
  archive_read_support_format_tar(a);
  EXPECT_EQ(archive_read_open_filename(a, tgz.c_str(), 1 << 16), ARCHIVE_OK) << archive_error_string(a);
  struct archive_entry* e;
  while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
    out.push_back({archive_entry_pathname(e), archive_entry_mtime(e), archive_entry_uid(e), archive_entry_gid(e),
                   archive_entry_perm(e), archive_entry_size(e)});
  }
  archive_read_free(a);
  return out;
}

std::string package_bytes(const fs::path& dir) {
  io::StringSink sink;
  chart::write_package(dir, sink);
  return sink.out;
}

// Values that make the render deterministic (no generated secrets).
helm::Values fixed_secrets() {
  helm::Values v;
  v.set = {"secrets.secretKey=s", "secrets.jwtSecretKey=j", "secrets.postgresPassword=p", "secrets.redisPassword=r",
           "pipeline.enabled=true"};
  return v;
}

TEST(ChartPackage, SameChartSameBytesWhateverTheFileTimes) {
  testenv::TempDir tmp;
  fs::copy(chart_dir(), tmp.path() / "chart", fs::copy_options::recursive);
  const std::string first = package_bytes(tmp.path() / "chart");
  // New modification times on every file change nothing.
  for (const auto& e : fs::recursive_directory_iterator(tmp.path() / "chart"))
    if (e.is_regular_file()) fs::last_write_time(e.path(), fs::file_time_type::clock::now() - std::chrono::hours(5));
  EXPECT_EQ(package_bytes(tmp.path() / "chart"), first);
  // gzip header: no timestamp.
  ASSERT_GT(first.size(), 10u);
  EXPECT_EQ(first.substr(0, 2), std::string("\x1f\x8b"));
  EXPECT_EQ(first.substr(4, 4), std::string(4, '\0'));
  // A changed file changes the digest.
  util::write_file_atomic(tmp.path() / "chart/templates/NOTES.txt", "changed\n");
  EXPECT_NE(oci::Digest::of(package_bytes(tmp.path() / "chart")), oci::Digest::of(first));
}

TEST(ChartPackage, EntriesAreSortedOwnedByRootWithFixedTimeAndMode) {
  testenv::TempDir tmp;
  auto packaged = chart::package_to_dir(chart_dir(), tmp.path(), 1700000000);
  EXPECT_EQ(packaged.path, tmp.path() / "ai-saas-dashboard-1.0.0.tgz");
  EXPECT_EQ(packaged.package.digest, oci::Digest::of(util::read_file(packaged.path)));
  EXPECT_EQ(packaged.package.size, fs::file_size(packaged.path));
  auto entries = tar_entries(packaged.path);
  ASSERT_FALSE(entries.empty());
  std::vector<std::string> paths;
  for (const auto& e : entries) {
    paths.push_back(e.path);
    EXPECT_EQ(e.path.rfind("ai-saas-dashboard/", 0), 0u) << e.path;
    EXPECT_EQ(e.mtime, 1700000000) << e.path;
    EXPECT_EQ(e.uid, 0) << e.path;
    EXPECT_EQ(e.gid, 0) << e.path;
    EXPECT_EQ(e.mode, 0644u) << e.path;
  }
  EXPECT_TRUE(std::is_sorted(paths.begin(), paths.end()));
  EXPECT_NE(std::find(paths.begin(), paths.end(), "ai-saas-dashboard/Chart.yaml"), paths.end());
  EXPECT_NE(std::find(paths.begin(), paths.end(), "ai-saas-dashboard/templates/_helpers.tpl"), paths.end());
  EXPECT_NE(std::find(paths.begin(), paths.end(), "ai-saas-dashboard/values-prod.yaml"), paths.end());
}

TEST(ChartPackage, HelmReadsThePackageLikeTheDirectory) {
  testenv::TempDir tmp;
  auto packaged = chart::package_to_dir(chart_dir(), tmp.path());
  auto helm = real_helm();
  const auto shown = chart::Metadata::parse(helm.show_chart(packaged.path), "helm show chart");
  EXPECT_EQ(shown.name, "ai-saas-dashboard");
  EXPECT_EQ(shown.version, "1.0.0");
  EXPECT_EQ(shown.annotations, chart::Metadata::load(chart_dir()).annotations);
  EXPECT_NO_THROW(helm.lint(packaged.path, {}, kKubeVersion));
  EXPECT_EQ(render(fixed_secrets(), packaged.path), render(fixed_secrets(), chart_dir()));
}

// Writes a file, creating its directory.
void put(const fs::path& file, const std::string& text = "x: 1\n") {
  fs::create_directories(file.parent_path());
  util::write_file_atomic(file, text);
}

TEST(ChartPackage, HelmignoreRulesMatchHelmPackage) {
  testenv::TempDir tmp;
  const fs::path dir = tmp.path() / "demo";
  put(dir / "Chart.yaml", "apiVersion: v2\nname: demo\nversion: 0.1.0\n");
  put(dir / "values.yaml");
  put(dir / ".helmignore",
      "\xEF\xBB\xBF# comment\n\n*.bak\nignored-dir/\n/rootonly.txt\ntemplates/skip-*.yaml\n  spaced.tmp  \ndocs/*.md\n");
  put(dir / "templates/deploy.yaml", "# nothing\n");
  put(dir / "templates/skip-me.yaml");
  put(dir / "templates/.hidden.yaml");
  put(dir / "templates/sub/skip-not-here.yaml", "# kept: the rule names templates/ only\n");
  put(dir / "notes.bak");
  put(dir / "templates/old.bak");
  put(dir / "ignored-dir/file.txt");
  put(dir / "ignored-dir-not/file.txt");
  put(dir / "rootonly.txt");
  put(dir / "nested/rootonly.txt");
  put(dir / "spaced.tmp");
  put(dir / "docs/readme.md");
  put(dir / "docs/deep/readme.md");
  put(dir / "files/a b.txt");

  std::set<std::string> ours;
  for (const auto& f : chart::package_files(dir)) ours.insert("demo/" + f);

  auto r = testenv::run({testenv::peer("helm"), "package", dir.string(), "--destination", tmp.path().string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::set<std::string> helms;
  for (const auto& e : tar_entries(tmp.path() / "demo-0.1.0.tgz")) helms.insert(e.path);
  EXPECT_EQ(ours, helms);
  EXPECT_TRUE(ours.count("demo/templates/sub/skip-not-here.yaml"));
  EXPECT_TRUE(ours.count("demo/nested/rootonly.txt"));
  EXPECT_FALSE(ours.count("demo/rootonly.txt"));
  EXPECT_FALSE(ours.count("demo/templates/.hidden.yaml"));
}

TEST(ChartPackage, RefusesWhatHelmRefuses) {
  testenv::TempDir tmp;
  const fs::path dir = tmp.path() / "demo";
  put(dir / "Chart.yaml", "apiVersion: v2\nname: demo\nversion: 0.1.0\n");
  ASSERT_EQ(mkfifo((dir / "pipe").c_str(), 0600), 0);
  try {
    chart::package_files(dir);
    FAIL() << "a FIFO was packaged";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Input);
    EXPECT_NE(std::string(e.what()).find("irregular file"), std::string::npos) << e.what();
  }
  fs::remove(dir / "pipe");
  put(dir / ".helmignore", "templates/**/x\n");
  EXPECT_THROW(chart::package_files(dir), Error);
  fs::remove(dir / ".helmignore");
  fs::remove(dir / "Chart.yaml");
  try {
    io::StringSink sink;
    chart::write_package(dir, sink);
    FAIL() << "a directory without Chart.yaml was packaged";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("has no Chart.yaml"), std::string::npos) << e.what();
  }
}

TEST(ChartPackage, NothingIsLeftBehindWhenPackagingFails) {
  testenv::TempDir tmp;
  const fs::path dir = tmp.path() / "demo";
  put(dir / "Chart.yaml", "apiVersion: v2\nname: demo\nversion: 0.1.0\n");
  ASSERT_EQ(mkfifo((dir / "pipe").c_str(), 0600), 0);
  fs::create_directories(tmp.path() / "out");
  EXPECT_THROW(chart::package_to_dir(dir, tmp.path() / "out"), Error);
  EXPECT_TRUE(fs::is_empty(tmp.path() / "out"));
}

}  // namespace
}  // namespace sealift::charttest
