;; A start section that returns: the start function writes "start\n", then `_start` writes "_start\n" and
;; exits with 5 if the start function had not run first (a global it sets), else returns (status 0).
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 32) "start\n_start\n")
  (global $started (mut i32) (i32.const 0))
  (func $write (param $at i32) (param $len i32)
    (i32.store (i32.const 0) (local.get $at))
    (i32.store (i32.const 4) (local.get $len))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))
  (func $init
    (call $write (i32.const 32) (i32.const 6))
    (global.set $started (i32.const 1)))
  (start $init)
  (func (export "_start")
    (call $write (i32.const 38) (i32.const 7))
    (if (i32.eqz (global.get $started)) (then (call $proc_exit (i32.const 5))))))
