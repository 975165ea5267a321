// REST for operators: PUT /api/v1/topics/{name} publishes a value, GET lists topics with their group
// observation, observer counts and last notification.
import {
  BadRequestException,
  Body,
  Controller,
  Get,
  HttpException,
  Inject,
  NotFoundException,
  Param,
  Put,
} from '@nestjs/common';
import { type GroupObserver, TopicError, type TopicView } from './group-observer';
import { GROUP_OBSERVER } from './tokens';

@Controller('api/v1/topics')
export class TopicsController {
  constructor(@Inject(GROUP_OBSERVER) private readonly observer: GroupObserver) {}

  @Get()
  list(): TopicView[] {
    return this.observer.list();
  }

  @Get(':name')
  get(@Param('name') name: string): TopicView {
    const t = this.observer.get(name);
    if (!t) throw new NotFoundException(`no topic "${name}"`);
    return t;
  }

  @Put(':name')
  async put(@Param('name') name: string, @Body() body: unknown): Promise<TopicView> {
    if (typeof body !== 'object' || body === null || !('value' in body)) {
      throw new BadRequestException('body must be {"value": ..., "contentFormat"?: 0|42|50|60}');
    }
    const { value, contentFormat } = body as { value: unknown; contentFormat?: unknown };
    if (contentFormat !== undefined && !Number.isInteger(contentFormat)) {
      throw new BadRequestException('contentFormat must be an integer');
    }
    try {
      return await this.observer.publish(name, value, contentFormat as number | undefined);
    } catch (err) {
      if (err instanceof TopicError) throw new HttpException(err.message, err.status);
      throw err;
    }
  }
}
