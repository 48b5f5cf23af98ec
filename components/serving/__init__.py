"""Model serving on the platform: KServe in Standard mode, our MLServer runtime, ModelDeployment."""
