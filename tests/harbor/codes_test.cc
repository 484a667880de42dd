// sealift's registry client against Harbor's own answers (the stand-in answers as a real Harbor
// 2.15.2 does, standin_test.cc): 404 NOT_FOUND where distribution says NAME_UNKNOWN, and the 401
// with an empty Www-Authenticate for a repository whose project does not exist. Each call site
// that decides by an error code (registry/remote_error.h) is asked here the question Harbor
// answers in its own words.
#include <gtest/gtest.h>

#include "env/harbor.h"
#include "registry/client.h"
#include "util/error.h"

namespace sealift::registry {
namespace {

RegistryOptions admin_of(const testenv::HarborLike& h) {
  RegistryOptions ro;
  ro.http.plain_http = true;
  ro.retry.retries = 1;
  ro.retry.initial_delay_s = 0.05;
  ro.credentials = {h.admin_user(), h.admin_password(), "test"};
  return ro;
}

const oci::Digest kNoSuchDigest = oci::Digest::parse("sha256:" + std::string(64, '0'));

// A new project's repositories exist only after their first push: the first push asks about tags,
// manifests, blobs and referrers there, and must read Harbor's "not found" as "nothing yet".
TEST(HarborCodes, ARepositoryNotPushedYetIsEmpty) {
  testenv::HarborLike harbor(std::vector<std::string>{"p"});
  RegistryClient client(harbor.host(), admin_of(harbor));
  EXPECT_TRUE(client.list_tags("p/library/alpine").empty());
  EXPECT_FALSE(client.find("p/library/alpine", "3.19"));
  EXPECT_FALSE(client.manifest_exists("p/library/alpine", kNoSuchDigest));
  EXPECT_FALSE(client.blob_exists("p/library/alpine", kNoSuchDigest));
  std::optional<oci::Manifest> referrers = client.referrers("p/library/alpine", kNoSuchDigest);
  ASSERT_TRUE(referrers) << "Harbor has the referrers API";
  EXPECT_TRUE(referrers->manifests().empty());
  EXPECT_NO_THROW(client.check_push_access("p/library/alpine"));
  try {
    client.get_manifest("p/library/alpine", "3.19");
    ADD_FAILURE() << "a manifest that does not exist was read";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("not found"), std::string::npos) << e.what();
  }
}

// In a project that does not exist Harbor answers every /v2/ request with a 401 whose challenge is
// empty: nothing there, and no login that would help.
TEST(HarborCodes, AProjectThatDoesNotExistHoldsNothingAndTakesNoPush) {
  testenv::HarborLike harbor;
  RegistryClient client(harbor.host(), admin_of(harbor));
  EXPECT_TRUE(client.list_tags("noproject/x").empty());
  EXPECT_FALSE(client.find("noproject/x", "latest"));
  EXPECT_FALSE(client.blob_exists("noproject/x", kNoSuchDigest));
  EXPECT_FALSE(client.referrers("noproject/x", kNoSuchDigest));
  try {
    client.check_push_access("noproject/x");
    ADD_FAILURE() << "a push into a project that does not exist was allowed";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Remote);
    EXPECT_NE(std::string(e.what()).find("project \"noproject\" does not exist on " + harbor.host()), std::string::npos)
        << e.what();
    EXPECT_NE(e.hint().find("--create-project"), std::string::npos) << e.hint();
  }
  // A fresh client whose first request is the push: Harbor checks the project before any login.
  RegistryClient fresh(harbor.host(), admin_of(harbor));
  EXPECT_THROW(fresh.check_push_access("noproject/x"), Error);
}

}  // namespace
}  // namespace sealift::registry
