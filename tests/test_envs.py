from policysearch.envs import DEFAULT_MAX_EPISODE_STEPS, make_env


def test_envs_without_a_time_limit_get_one() -> None:
    env = make_env("CliffWalking-v1")
    assert env.spec.max_episode_steps == DEFAULT_MAX_EPISODE_STEPS


def test_module_prefixed_ids_are_imported() -> None:
    env = make_env("testenvs:DiscreteObsBoxAction-v0")
    assert env.observation_space.n == 3
