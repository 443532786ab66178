/* SPDX-License-Identifier: MIT */
/* The stamp points' globals (stamp.h): off unless the bench turns them on. */
#include "stamp.h"

bool xvio_stamp_on;
struct xvio_stamps xvio_stamps;
