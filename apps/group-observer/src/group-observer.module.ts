import { type DynamicModule, Module } from '@nestjs/common';
import type { GroupObserver } from './group-observer';
import { TopicsController } from './topics.controller';
import { GROUP_OBSERVER } from './tokens';

/** The REST side of a mounted group-observer; import it into any Nest HTTP app (e.g. the api). */
@Module({})
export class GroupObserverHttpModule {
  static forRoot(observer: GroupObserver): DynamicModule {
    return {
      module: GroupObserverHttpModule,
      controllers: [TopicsController],
      providers: [{ provide: GROUP_OBSERVER, useValue: observer }],
      exports: [GROUP_OBSERVER],
    };
  }
}
