//! Physical memory and register access. (Stub: register-access issue.)
