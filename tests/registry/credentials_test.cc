#include "registry/credentials.h"

#include <map>

#include <gtest/gtest.h>

#include "env/process.h"
#include "util/encoding.h"
#include "util/error.h"
#include "util/fs.h"

namespace sealift::registry {
namespace {

using testenv::TempDir;

Environment env_of(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const char* name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

std::function<std::string()> no_stdin() {
  return []() -> std::string { throw std::logic_error("stdin must not be read"); };
}

constexpr const char* kSecret = "pa:ss w0rd";

TEST(Credentials, FlagsComeFirst) {
  CredentialFlags f{"alice", std::string(kSecret), false};
  auto c = resolve_credentials("h", f, no_stdin(), env_of({{kUserEnv, "bob"}, {kPasswordEnv, "x"}}));
  EXPECT_EQ(c.username, "alice");
  EXPECT_EQ(c.password, kSecret);
  EXPECT_EQ(c.origin, "--username/--password");
}

TEST(Credentials, PasswordStdinBeatsEnvironment) {
  CredentialFlags f{"alice", std::nullopt, true};
  auto c = resolve_credentials("h", f, [] { return std::string(kSecret); }, env_of({{kUserEnv, "bob"}, {kPasswordEnv, "x"}}));
  EXPECT_EQ(c.username, "alice");
  EXPECT_EQ(c.password, kSecret);
}

TEST(Credentials, EnvironmentBeatsDockerConfig) {
  TempDir dir;
  util::write_file_atomic(dir / "config.json", R"({"auths":{"h":{"auth":")" + util::base64_encode("carol:c") + R"("}}})");
  auto env = env_of({{kUserEnv, "bob"}, {kPasswordEnv, kSecret}, {"DOCKER_CONFIG", dir.path().string()}});
  auto c = resolve_credentials("h", {}, no_stdin(), env);
  EXPECT_EQ(c.username, "bob");
  EXPECT_EQ(c.password, kSecret);
  EXPECT_EQ(c.origin, kUserEnv);
}

TEST(Credentials, DockerConfigLastThenAnonymous) {
  TempDir dir;
  util::write_file_atomic(dir / "config.json",
                          R"({"auths":{"https://h:5000/v1/":{"auth":")" + util::base64_encode("carol:pw:with:colons") + R"("}}})");
  auto env = env_of({{"DOCKER_CONFIG", dir.path().string()}});
  auto c = resolve_credentials("H:5000", {}, no_stdin(), env);
  EXPECT_EQ(c.username, "carol");
  EXPECT_EQ(c.password, "pw:with:colons");
  EXPECT_EQ(c.origin, (dir / "config.json").string());
  EXPECT_TRUE(resolve_credentials("other:5000", {}, no_stdin(), env).anonymous());
  EXPECT_TRUE(resolve_credentials("h", {}, no_stdin(), env).anonymous()) << "a port is part of the host";
}

TEST(Credentials, HomeDockerConfigAndDockerHubKey) {
  TempDir home;
  std::filesystem::create_directories(home / ".docker");
  util::write_file_atomic(home / ".docker/config.json",
                          R"({"auths":{"https://index.docker.io/v1/":{"auth":")" + util::base64_encode("hub:pw") + R"("}}})");
  auto env = env_of({{"HOME", home.path().string()}});
  EXPECT_EQ(docker_config_path(env), home / ".docker/config.json");
  auto c = resolve_credentials("docker.io", {}, no_stdin(), env);
  EXPECT_EQ(c.username, "hub");
  EXPECT_EQ(c.password, "pw");
}

TEST(Credentials, MissingConfigFileMeansAnonymous) {
  TempDir dir;
  EXPECT_TRUE(resolve_credentials("h", {}, no_stdin(), env_of({{"DOCKER_CONFIG", (dir / "none").string()}})).anonymous());
  EXPECT_TRUE(resolve_credentials("h", {}, no_stdin(), env_of({})).anonymous());
}

TEST(Credentials, UsernameAndPasswordFieldsAreAccepted) {
  TempDir dir;
  util::write_file_atomic(dir / "config.json", R"({"auths":{"h":{"username":"u","password":"p"}}})");
  auto c = read_docker_config(dir / "config.json", "h");
  EXPECT_EQ(c.username, "u");
  EXPECT_EQ(c.password, "p");
}

void expect_error(const std::function<void()>& f, ErrorKind kind, const std::string& fragment) {
  try {
    f();
    ADD_FAILURE() << "no error; expected " << fragment;
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), kind) << e.what();
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).find(kSecret), std::string::npos) << "password leaked: " << e.what();
    EXPECT_EQ(e.hint().find(kSecret), std::string::npos);
  }
}

TEST(Credentials, InconsistentFlagsAndVariables) {
  expect_error([] { resolve_credentials("h", {"", std::string(kSecret), false}, no_stdin(), env_of({})); },
               ErrorKind::Usage, "without --username");
  expect_error([] { resolve_credentials("h", {"u", std::string(kSecret), true}, no_stdin(), env_of({})); },
               ErrorKind::Usage, "mutually exclusive");
  expect_error([] { resolve_credentials("h", {"u", std::nullopt, false}, no_stdin(), env_of({})); }, ErrorKind::Usage,
               "needs a password");
  expect_error([] { resolve_credentials("h", {"u", std::nullopt, true}, [] { return std::string(); }, env_of({})); },
               ErrorKind::Usage, "nothing was read");
  expect_error([] { resolve_credentials("h", {}, no_stdin(), env_of({{kUserEnv, "u"}})); }, ErrorKind::Usage,
               "SEALIFT_REGISTRY_PASSWORD is not");
  expect_error([] { resolve_credentials("h", {}, no_stdin(), env_of({{kPasswordEnv, kSecret}})); }, ErrorKind::Usage,
               "SEALIFT_REGISTRY_USER is not");
}

TEST(Credentials, MalformedDockerConfigsAreRefusedWithoutLeakingSecrets) {
  TempDir dir;
  auto file = dir / "config.json";
  auto check = [&](const std::string& content, ErrorKind kind, const std::string& fragment) {
    util::write_file_atomic(file, content);
    expect_error([&] { read_docker_config(file, "h"); }, kind, fragment);
  };
  check("{not json", ErrorKind::Input, "not a valid JSON object");
  check("[1,2]", ErrorKind::Input, "not a valid JSON object");
  check(R"({"auths":[]})", ErrorKind::Input, "\"auths\" is not an object");
  check(R"({"auths":{"h":"x"}})", ErrorKind::Input, "is not an object");
  check(R"({"auths":{"h":{"auth":42}}})", ErrorKind::Input, "\"auth\" is not a string");
  check(R"({"auths":{"h":{"auth":"!!!notbase64"}}})", ErrorKind::Input, "not valid base64");
  check(R"({"auths":{"h":{"auth":")" + util::base64_encode("no-colon-at-all") + R"("}}})",
        ErrorKind::Input, "does not decode to user:password");
  check(R"({"auths":{"h":{"auth":")" + util::base64_encode(std::string(":") + kSecret) + R"("}}})", ErrorKind::Input,
        "does not decode to user:password");
  check(R"({"auths":{"h":{"username":"u"}}})", ErrorKind::Input, "needs both");
  check(R"({"auths":{"h":{}},"credsStore":"desktop"})", ErrorKind::Usage, "credential store \"desktop\"");
  check(R"({"credHelpers":{"h":"ecr-login"}})", ErrorKind::Usage, "credential helper \"ecr-login\"");
  check(R"({"auths":{"h":{"identitytoken":"t"}}})", ErrorKind::Usage, "identity token");
  // Entries for other registries do not matter, even malformed ones.
  util::write_file_atomic(file, R"({"auths":{"other":{"auth":"!!!"}},"credHelpers":{"x":"y"}})");
  EXPECT_TRUE(read_docker_config(file, "h").anonymous());
}

}  // namespace
}  // namespace sealift::registry
