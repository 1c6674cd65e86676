from dg_common.isolation import isolate_ros

isolate_ros()
