// LookUpUser, LookUpGroup and ParseNumericId (server/common/unix_user.h) against this machine's passwd and
// group databases (root and the current user always exist).
#include "server/common/unix_user.h"

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <string>

namespace esg {
namespace {

TEST(ParseNumericIdTest, DecimalBelowTheNoChangeId) {
  unsigned id = 7;
  EXPECT_TRUE(ParseNumericId("0", &id));
  EXPECT_EQ(id, 0u);
  EXPECT_TRUE(ParseNumericId("4294967294", &id));
  EXPECT_EQ(id, 4294967294u);
  for (const char* bad : {"", "4294967295", "99999999999999999999", "-1", "+1", " 1", "1 ", "0x10", "12a"}) {
    EXPECT_FALSE(ParseNumericId(bad, &id)) << bad;
  }
}

TEST(LookUpUserTest, ByNameAndByUid) {
  struct passwd* me = getpwuid(getuid());
  ASSERT_NE(me, nullptr);
  const std::string name = me->pw_name;
  const uid_t expected_uid = me->pw_uid;
  const gid_t expected_gid = me->pw_gid;
  uid_t uid = 12345;
  gid_t gid = 12345;
  ASSERT_TRUE(LookUpUser(name, &uid, &gid));
  EXPECT_EQ(uid, expected_uid);
  EXPECT_EQ(gid, expected_gid);
  uid = gid = 12345;
  ASSERT_TRUE(LookUpUser(std::to_string(expected_uid), &uid, &gid));
  EXPECT_EQ(uid, expected_uid);
  EXPECT_EQ(gid, expected_gid);
}

TEST(LookUpUserTest, UnknownUsersLeaveTheOutputsAlone) {
  uid_t uid = 12345;
  gid_t gid = 12345;
  for (const char* unknown : {"no-such-user-for-esg", "", "4294967295", "99999999999999999999", "-1"}) {
    EXPECT_FALSE(LookUpUser(unknown, &uid, &gid)) << unknown;
  }
  EXPECT_EQ(uid, 12345u);
  EXPECT_EQ(gid, 12345u);
}

TEST(LookUpGroupTest, ByNameOrAnyNumericGid) {
  gid_t gid = 12345;
  ASSERT_TRUE(LookUpGroup("root", &gid));
  EXPECT_EQ(gid, 0u);
  // A numeric gid need not have a name.
  ASSERT_TRUE(LookUpGroup("4242", &gid));
  EXPECT_EQ(gid, 4242u);
  gid = 12345;
  for (const char* unknown : {"no-such-group-for-esg", "", "-1", "4294967295", "1e3"}) {
    EXPECT_FALSE(LookUpGroup(unknown, &gid)) << unknown;
  }
  EXPECT_EQ(gid, 12345u);
}

}  // namespace
}  // namespace esg
