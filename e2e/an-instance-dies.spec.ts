import { expect, test } from './fixtures.ts';

test('when the instance serving a user dies, the others carry on without an error page or a new login', async ({
  loggedIn: dashboard,
  user,
  stack,
}) => {
  const victimId = await dashboard.servedBy();
  const victim = (await stack.status()).instances.find((instance) => instance.id === victimId);
  if (!victim) throw new Error(`the dashboard names ${victimId}, which the stack does not run`);

  await stack.killInstance(victim.n);
  const survivors = await stack.runningInstances();
  expect(survivors).not.toContain(victimId);

  const servedBy: string[] = [];
  for (let visit = 0; visit < 15; visit += 1) {
    const { status, instance } = await dashboard.open();
    expect(status, `visit ${visit + 1} (${instance})`).toBe(200);
    await expect(dashboard.signedInAs, `visit ${visit + 1} (${instance})`).toHaveText(user.username);
    servedBy.push(instance);
  }
  expect([...new Set(servedBy)].sort(), 'instances that served the pages').toEqual(survivors);

  const chips = await dashboard.hop();
  expect(
    chips.filter((chip) => chip.state !== 'authenticated'),
    'chips that did not know the user',
  ).toEqual([]);
  expect(
    chips.filter((chip) => !survivors.includes(chip.instance)),
    'chips from a dead instance',
  ).toEqual([]);
});
