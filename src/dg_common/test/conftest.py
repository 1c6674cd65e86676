from dg_common.testing import isolate_ros

isolate_ros()
