"""The employment app's pages: the school's (就业管理), the employer's (签约中心, 数据管理,
解约中心) and the student's (线上签约, 解约办理, 线下签约), one module each."""
