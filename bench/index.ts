// Placeholder until the load-test harness lands (issue 4): it says so and exits non-zero so
// that nobody mistakes it for a measurement.
process.stderr.write('bench: the load-test harness is not written yet (see issue 4: hot-room, many-rooms, flash-crowd, switch-storm, group-chat, cluster).\n');
process.exit(2);
